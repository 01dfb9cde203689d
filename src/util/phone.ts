// E.164 normalisation for phone numbers and caller IDs (CONTRACT §2).

/** Strips spaces, dashes, dots and brackets, turns a leading 00 into +; null if not E.164. */
export function normalizeE164(input: string): string | null {
  let text = input.trim().replace(/[\s\-().]/g, '');
  if (text.startsWith('00')) text = '+' + text.slice(2);
  if (!/^\+[1-9]\d{7,14}$/.test(text)) return null;
  return text;
}
