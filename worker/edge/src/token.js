// Playback tokens, verified at the edge: the same rules as videoctl/domain/playback.py, reason
// for reason (both are held to tests/fixtures/playback_vectors.json).
//
//   v1.{kid}.{exp}.{b64url(prefix)}.{b64url(viewer)}.{b64url(mac)}
//
// The MAC is HMAC-SHA256, under the key named by kid, of the text before it: every field as
// written. A token opens one ladder (its prefix, videos/{id}/hls/{job}-{n}/) until exp.

export const VERSION = "v1";
export const CLOCK_SKEW_S = 60;
export const DEFAULT_MAX_LIFETIME_S = 86400;
const MIN_SECRET_CHARS = 32;
const MAX_PATH_CHARS = 1024;
const KID_CHARS = 32;
const EXP_DIGITS = 12;
const MAC_CHARS = 43; // 32 bytes in base64url without padding
const REMEMBERED = 8192;

const KID = /^[A-Za-z0-9_-]{1,32}$/;
const TOKEN_CHARS = /^[A-Za-z0-9_.-]*$/;
const DIGITS = /^[0-9]+$/;
const LADDER_PREFIX = /^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)+[1-9][0-9]*\/hls\/[1-9][0-9]*-[0-9]+\/$/;
const PLAIN_PATH = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
const CONTROL = /[\x00-\x1f\x7f]/;

/** A request the token does not allow; `reason` is one of the Python module's REASONS. */
export class Refused extends Error {
  constructor(reason, detail) {
    super(`${reason}: ${detail}`);
    this.reason = reason;
  }
}

/** `kid:secret,kid:secret,…` (newest first) → a keyring; an Error names the entry, never a secret. */
export function parseKeys(raw) {
  const keys = new Map();
  const entries = String(raw || "").split(",").map((part) => part.trim()).filter(Boolean);
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(":");
    const kid = colon < 0 ? "" : entry.slice(0, colon).trim();
    const secret = colon < 0 ? "" : entry.slice(colon + 1).trim();
    if (!KID.test(kid)) throw new Error(`PLAYBACK_KEYS entry ${index + 1} must be KID:SECRET`);
    if (secret.length < MIN_SECRET_CHARS || !/^[\x21-\x7e]+$/.test(secret)) {
      throw new Error(`PLAYBACK_KEYS entry ${index + 1} must have a secret of at least ${MIN_SECRET_CHARS} characters`);
    }
    if (keys.has(kid)) throw new Error(`PLAYBACK_KEYS entry ${index + 1} repeats a key id`);
    keys.set(kid, {kid, secret, cryptoKey: null});
  });
  if (keys.size === 0) throw new Error("PLAYBACK_KEYS must list at least one KID:SECRET");
  // Tokens these keys opened: a player sends one with every request of a ladder.
  return {keys, opened: new Map()};
}

const encoder = new TextEncoder();

async function macOf(key, signed) {
  if (key.cryptoKey === null) {
    key.cryptoKey = await crypto.subtle.importKey(
      "raw", encoder.encode(key.secret), {name: "HMAC", hash: "SHA-256"}, false, ["sign"]);
  }
  const mac = await crypto.subtle.sign("HMAC", key.cryptoKey, encoder.encode(signed));
  return b64url(new Uint8Array(mac));
}

function b64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unb64url(text) {
  if (text.length % 4 === 1) throw new Refused("malformed", "a signed field does not decode");
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Equal strings of the same length, compared without stopping at the first difference. */
export function constantTimeEqual(a, b) {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

async function open(token, keyring) {
  const fields = token.split(".");
  if (!TOKEN_CHARS.test(token) || fields.length !== 6 || fields[0] !== VERSION) {
    throw new Refused("malformed", "a token is v1 and five fields separated by dots");
  }
  const [, kid, exp, prefixB64, viewerB64, mac] = fields;
  if (!(kid.length > 0 && kid.length <= KID_CHARS && exp.length > 0 && exp.length <= EXP_DIGITS &&
        DIGITS.test(exp) && exp[0] !== "0" && mac.length === MAC_CHARS)) {
    throw new Refused("malformed", "a field has a length or characters a token never has");
  }
  const key = keyring.keys.get(kid);
  if (key === undefined) throw new Refused("unknown_key", "no such playback key");
  const expected = await macOf(key, token.slice(0, -MAC_CHARS - 1));
  if (!constantTimeEqual(expected, mac)) {
    throw new Refused("bad_signature", "the token was not signed by this key, or was changed");
  }
  let prefix, viewer;
  try {
    const prefixBytes = unb64url(prefixB64);
    if (prefixBytes.some((byte) => byte > 0x7f)) throw new Refused("malformed", "the prefix is not ASCII");
    prefix = String.fromCharCode(...prefixBytes);
    viewer = viewerB64 ? new TextDecoder("utf-8", {fatal: true, ignoreBOM: true}).decode(unb64url(viewerB64)) : null;
  } catch (error) {
    throw error instanceof Refused ? error : new Refused("malformed", "a signed field does not decode");
  }
  if (!LADDER_PREFIX.test(prefix)) throw new Refused("bad_prefix", "the token opens something other than one ladder");
  return {kid, expiresAt: Number(exp), prefix, viewer};
}

/**
 * The grant `token` gives for `requestPath` (what follows /t/{token}/, still percent-encoded) at
 * `now` (Unix seconds): {kid, expiresAt, prefix, viewer, key}; throws Refused otherwise.
 */
export async function verify(token, requestPath, keyring, now, maxLifetimeS = DEFAULT_MAX_LIFETIME_S) {
  let opened = keyring.opened.get(token);
  if (opened === undefined) {
    opened = await open(token, keyring);
    if (keyring.opened.size >= REMEMBERED) keyring.opened.clear();
    keyring.opened.set(token, opened);
  }
  const {kid, expiresAt, prefix, viewer} = opened;
  if (expiresAt <= now) throw new Refused("expired", "the token expired");
  if (expiresAt > now + maxLifetimeS + CLOCK_SKEW_S) {
    throw new Refused("too_far_future", "the token is valid for longer than allowed");
  }
  const key = normalisePath(requestPath);
  if (!key.startsWith(prefix)) throw new Refused("outside_prefix", "the path is not inside the ladder the token opens");
  return {kid, expiresAt, prefix, viewer, key};
}

/** The object key a request path names, percent-decoded; Refused (bad_path) for any path whose
 *  meaning depends on who resolves it: encoded slashes, empty, '.' or '..' segments. */
export function normalisePath(requestPath) {
  if (requestPath.length > MAX_PATH_CHARS) throw new Refused("bad_path", "the path is too long");
  if (PLAIN_PATH.test(requestPath)) return requestPath;
  if (!requestPath || requestPath.includes("\\")) throw new Refused("bad_path", "the path is empty or holds a backslash");
  if (requestPath.includes("%")) {
    const lowered = requestPath.toLowerCase();
    if (BAD_ESCAPE.test(requestPath) || lowered.includes("%2f") || lowered.includes("%5c")) {
      throw new Refused("bad_path", "the path holds an encoded slash or backslash, or a broken escape");
    }
    try {
      requestPath = decodeURIComponent(requestPath);
    } catch {
      throw new Refused("bad_path", "the path is not UTF-8");
    }
  }
  if (CONTROL.test(requestPath)) throw new Refused("bad_path", "the path holds a control character");
  for (const segment of requestPath.split("/")) {
    if (segment === "" || segment === "." || segment === "..") {
      throw new Refused("bad_path", "the path has an empty, '.' or '..' segment");
    }
  }
  return requestPath;
}

/** "/t/{token}/{rest}" → [token, rest]; Refused (malformed) for any other path. */
export function splitRequest(pathname) {
  const match = /^\/t\/([^/]+)\/(.*)$/s.exec(pathname);
  if (match === null) throw new Refused("malformed", "the path is not /t/{token}/{key}");
  return [match[1], match[2]];
}
