// CSV records (RFC 4180) from a file: fields separated by commas, optionally in double quotes,
// a quote inside quotes doubled; a quoted field may span lines. Unquoted fields are trimmed.
// Knows nothing of rates: csv-rows.ts gives the fields their meaning.
import fs from 'node:fs';
import { badRequest } from '../errors.js';

/** A quoted field left open this long is a broken file, not a long destination. */
const MAX_RECORD_CHARS = 10_000;
const MAX_LINE_CHARS = 1 << 20;

type Split = { fields: string[] } | { error: string } | null;

/** Splits one record; null when a quoted field is still open at the end of the text. */
export function splitCsvRecord(text: string): Split {
  if (text.indexOf('"') === -1) {
    const fields = text.split(',');
    for (let i = 0; i < fields.length; i++) fields[i] = fields[i].trim();
    return { fields };
  }
  const fields: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i < n && text[i] === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q === -1) return null;
        value += text.slice(j, q);
        if (text[q + 1] === '"') {
          value += '"';
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      while (j < n && (text[j] === ' ' || text[j] === '\t')) j++;
      fields.push(value);
      if (j >= n) return { fields };
      if (text[j] !== ',') return { error: `unexpected text after a closing quote in field ${fields.length}` };
      i = j + 1;
    } else {
      const comma = text.indexOf(',', i);
      const raw = comma === -1 ? text.slice(i) : text.slice(i, comma);
      if (raw.includes('"')) return { error: `quote inside an unquoted field ${fields.length + 1}` };
      fields.push(raw.trim());
      if (comma === -1) return { fields };
      i = comma + 1;
    }
  }
}

export interface CsvRecordSink {
  /** A record and the line it starts on. */
  record(fields: string[], line: number): void;
  /** A record that cannot be split, and why. */
  bad(line: number, error: string): void;
  /** Bytes of the file read so far. */
  progress(bytesRead: number): void;
}

/**
 * Reads the file's records into `sink`, skipping blank lines, a byte-order mark and the CR of
 * CRLF. Answers the number of lines read. Throws a 400 on a line too long for a CSV file.
 */
export async function readCsvRecords(file: string, sink: CsvRecordSink): Promise<number> {
  let pending = '';
  let pendingLine = 0;

  const handleLine = (text: string, lineNo: number): void => {
    let line = text;
    let recordLine = lineNo;
    if (pending !== '') {
      line = `${pending}\n${line}`;
      recordLine = pendingLine;
      pending = '';
    } else if (line.length === 0 || line.trim() === '') {
      return;
    }
    const split = splitCsvRecord(line);
    if (split === null) {
      if (line.length > MAX_RECORD_CHARS) {
        sink.bad(recordLine, 'a quoted field is never closed');
        return;
      }
      pending = line;
      pendingLine = recordLine;
      return;
    }
    if ('error' in split) {
      sink.bad(recordLine, split.error);
      return;
    }
    sink.record(split.fields, recordLine);
  };

  // Lines are cut from 1 MB chunks synchronously: a per-line async iterator (readline)
  // costs more than the validation itself.
  const input = fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let lineNo = 0;
  let carry = '';
  try {
    for await (const chunk of input as AsyncIterable<string>) {
      let text = carry === '' ? chunk : carry + chunk;
      if (lineNo === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      let start = 0;
      for (;;) {
        const nl = text.indexOf('\n', start);
        if (nl === -1) break;
        const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        handleLine(text.slice(start, end), ++lineNo);
        start = nl + 1;
      }
      carry = text.slice(start);
      if (carry.length > MAX_LINE_CHARS) throw badRequest('file', `line ${lineNo + 1} is longer than ${MAX_LINE_CHARS} characters; is this a CSV file?`);
      sink.progress(input.bytesRead);
    }
    if (carry !== '') handleLine(carry.endsWith('\r') ? carry.slice(0, -1) : carry, ++lineNo);
  } finally {
    input.destroy();
  }
  if (pending !== '') sink.bad(pendingLine, 'a quoted field is never closed');
  return lineNo;
}
