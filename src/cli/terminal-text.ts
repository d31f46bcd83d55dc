/**
 * Text from data (galaxy ids, file names, messages quoting them) made safe to print: control
 * characters (C0 but newline and tab, DEL, C1) and bidirectional overrides are shown escaped
 * (`\x1b`, `\u202e`), so an id cannot move the cursor, recolour, retitle or reorder the terminal.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
