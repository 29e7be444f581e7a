/**
 * Salesforce record ids: 15 case-sensitive characters (a 3-character key prefix naming the object,
 * then the rest), and the 18-character form that adds a 3-character case checksum so the id
 * survives case-insensitive systems. The sandbox issues 18-character ids from a sequence.
 */

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
/** The two characters after the key prefix, standing for the pod; fixed in the sandbox. */
const POD = '5g';

export const KEY_PREFIXES = { Contact: '003', Account: '001', Organization: '00D', User: '005' } as const;

/** The 3-character checksum of a 15-character id. */
export function checksum(id15: string): string {
  let out = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let flags = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charCodeAt(chunk * 5 + i);
      if (c >= 65 && c <= 90) flags |= 1 << i;
    }
    out += SUFFIX[flags];
  }
  return out;
}

/** The 18-character id for a key prefix and a sequence number. */
export function makeId(prefix: string, n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`id sequence numbers are whole and non-negative, got ${n}`);
  let digits = '';
  let rest = n;
  do {
    digits = BASE62[rest % 62] + digits;
    rest = Math.floor(rest / 62);
  } while (rest > 0);
  if (digits.length > 10) throw new RangeError(`id sequence number too large: ${n}`);
  const id15 = prefix + POD + digits.padStart(10, '0');
  return id15 + checksum(id15);
}

/**
 * The 18-character form of a 15- or 18-character id, or undefined when the text is not an id. An
 * 18-character id whose checksum does not match its first 15 characters is not an id either.
 */
export function normalizeId(text: string): string | undefined {
  if (!/^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/.test(text)) return undefined;
  const id15 = text.slice(0, 15);
  const full = id15 + checksum(id15);
  if (text.length === 18 && text.slice(15).toUpperCase() !== full.slice(15)) return undefined;
  return full;
}
