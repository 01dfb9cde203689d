// A message as submit_sm PDUs: the segments sms/segments.ts counts, each GSM-7 (data_coding 0,
// one septet per octet, extension characters escaped) or UCS-2 (data_coding 8, UTF-16 big
// endian), and a long message concatenated with an 8-bit-reference UDH (05 00 03 ref total seq).
// The smpp package sends a string as IA5 and splits nothing, so the octets are made here.
import smpp from 'smpp';
import { SegmentedMessage } from 'sms-segments-calculator';
import type { SmsEncoding } from '../segments.js';

export interface SmppPart {
  data_coding: 0 | 8;
  /** 0x40 (UDH indicator) on the parts of a long message. */
  esm_class: number;
  short_message: Buffer;
}

/** The text of each segment, as the segment count splits it (never inside an escape or a surrogate pair). */
export function segmentTexts(text: string, encoding: SmsEncoding): string[] {
  const segmented = new SegmentedMessage(text, encoding);
  // Array.from first: a Segment is an Array subclass whose constructor (which filter and map
  // call) adds header placeholders of its own.
  return Array.from(segmented.segments, (segment) => Array.from(segment as ArrayLike<{ raw?: unknown }>)
    .flatMap((c) => (typeof c.raw === 'string' ? [c.raw] : [])).join(''));
}

function octets(text: string, encoding: SmsEncoding): Buffer {
  return encoding === 'GSM-7' ? smpp.encodings.ASCII.encode(text) : Buffer.from(text, 'utf16le').swap16();
}

/** `reference`: the concatenation reference, 0-255, the same on every part of one message. */
export function smppParts(text: string, encoding: SmsEncoding, reference: number): SmppPart[] {
  const dataCoding = encoding === 'GSM-7' ? 0 : 8;
  const texts = segmentTexts(text, encoding);
  if (texts.length === 1) return [{ data_coding: dataCoding, esm_class: 0, short_message: octets(texts[0], encoding) }];
  return texts.map((part, i) => ({
    data_coding: dataCoding,
    esm_class: 0x40,
    short_message: Buffer.concat([Buffer.from([0x05, 0x00, 0x03, reference & 0xff, texts.length, i + 1]), octets(part, encoding)]),
  }));
}
