// The supervisor's draw secret (揭示值): 32 random bytes made in the browser, and its commitment, SHA-256 hex,
// the only thing the platform receives before the bid deadline (evaluation/draw.py: commitment_of).

export const SECRET_SIZE = 32;

export const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

export function makeSecret() {
  return crypto.getRandomValues(new Uint8Array(SECRET_SIZE));
}

// The secret of a saved file or a pasted text (64 hex digits, any case, surrounding spaces), or null.
export function parseSecret(text) {
  const clean = String(text).trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(clean)) return null;
  return Uint8Array.from(clean.match(/../g), (pair) => parseInt(pair, 16));
}

export async function commitmentOf(secret) {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", secret)));
}
