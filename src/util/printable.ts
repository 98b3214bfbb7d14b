/**
 * Text from the network made safe for a terminal or a log line: control
 * characters (an escape sequence could move the cursor, recolour or rewrite
 * what is on screen; a newline could fake a line of ours) and the Unicode
 * bidirectional overrides become U+FFFD. The text itself (API, --json) is
 * kept as sent; this is only for printing it.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '\ufffd');
}
