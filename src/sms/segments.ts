// How many segments a text takes, and in which encoding (CONTRACT §5): GSM-7 when every
// character is in the GSM 03.38 default alphabet or its extension table (an extension
// character, such as € [ ] { } ~ ^ \ |, takes two septets), 160 septets in one segment and 153
// per segment of a longer text; any other text UCS-2, counted in UTF-16 code units (an emoji
// takes two, and is never split between segments), 70 in one segment and 67 per segment.
// The count is sms-segments-calculator's; test/sms/segments.test.ts checks it against these
// rules at every boundary.
import { SegmentedMessage } from 'sms-segments-calculator';
import { badRequest } from '../errors.js';

export type SmsEncoding = 'GSM-7' | 'UCS-2';

/** The longest text one SMS may carry: 10 segments (1,530 GSM-7 characters, 670 UCS-2). */
export const MAX_SMS_SEGMENTS = 10;

export interface Segmented {
  encoding: SmsEncoding;
  segments: number;
}

export function segmentsOf(text: string): Segmented {
  const segmented = new SegmentedMessage(text, 'auto');
  return { encoding: segmented.encodingName === 'GSM-7' ? 'GSM-7' : 'UCS-2', segments: segmented.segmentsCount };
}

/** The message field of a send: not empty, at most MAX_SMS_SEGMENTS segments. */
export function parseSmsText(input: unknown): { text: string } & Segmented {
  if (typeof input !== 'string' || input.trim() === '') throw badRequest('message', 'is required');
  // A cheap bound before counting: no text over 10 segments is shorter than this.
  if (input.length > 4 * 1530) throw badRequest('message', `must fit in ${MAX_SMS_SEGMENTS} SMS segments`);
  const counted = segmentsOf(input);
  if (counted.segments > MAX_SMS_SEGMENTS) {
    throw badRequest('message', `takes ${counted.segments} SMS segments (${counted.encoding}); at most ${MAX_SMS_SEGMENTS}`);
  }
  return { text: input, ...counted };
}
