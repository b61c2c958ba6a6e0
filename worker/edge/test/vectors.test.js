// The Worker's token rules against the vectors the Python code generated
// (tests/fixtures/playback_vectors.json): every answer the same, reason for reason, here in Node
// (workerd.test.js: in workerd). `npm test` runs both; pytest runs `npm test` (tests/edge/).
import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import {test} from "node:test";

import {Refused, constantTimeEqual, parseKeys, verify} from "../src/token.js";

const VECTORS = JSON.parse(readFileSync(new URL("../../../tests/fixtures/playback_vectors.json", import.meta.url)));

export async function answer(vector, keyring, now, maxLifetime) {
  try {
    const grant = await verify(vector.token, vector.path, keyring, now, maxLifetime);
    return {ok: true, kid: grant.kid, expires_at: grant.expiresAt, prefix: grant.prefix, viewer: grant.viewer,
            key: grant.key};
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    return {ok: false, reason: error.reason};
  }
}

test("every vector gets the answer the Python code gives", async () => {
  assert.ok(VECTORS.vectors.length > 30);
  for (const vector of VECTORS.vectors) {
    // A fresh keyring each time: what one remembers must not decide another's answer.
    const got = await answer(vector, parseKeys(VECTORS.keys), VECTORS.now, VECTORS.max_lifetime_s);
    assert.deepEqual(got, vector.expect, vector.name);
  }
});

test("the same answers from a keyring that has opened every token before", async () => {
  const keyring = parseKeys(VECTORS.keys);
  for (const round of [1, 2]) {
    for (const vector of VECTORS.vectors) {
      const got = await answer(vector, keyring, VECTORS.now, VECTORS.max_lifetime_s);
      assert.deepEqual(got, vector.expect, `${vector.name} (round ${round})`);
    }
  }
});

test("constant-time comparison compares", () => {
  assert.equal(constantTimeEqual("abc", "abc"), true);
  assert.equal(constantTimeEqual("abc", "abd"), false);
  assert.equal(constantTimeEqual("abc", "ab"), false);
  assert.equal(constantTimeEqual("", ""), true);
});

test("PLAYBACK_KEYS mistakes name the entry, never the secret", () => {
  const secret = "s3cr3t-value-that-must-not-be-shown-0123456789";
  for (const raw of [`${secret}`, `k1:short,k2:${secret}`, `k1:${secret},k1:${secret}`, `bad kid:${secret}`, ""]) {
    assert.throws(() => parseKeys(raw), (error) => !error.message.includes(secret) && /PLAYBACK_KEYS/.test(error.message),
                  raw);
  }
});
