// The shared vectors again, inside workerd (the runtime the Worker deploys to, through Miniflare):
// its WebCrypto, its TextDecoder, its regular expressions.
import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import {test} from "node:test";

import {Miniflare} from "miniflare";

const VECTORS = readFileSync(new URL("../../../tests/fixtures/playback_vectors.json", import.meta.url), "utf8");
const TOKEN_JS = readFileSync(new URL("../src/token.js", import.meta.url), "utf8");

const RUNNER = `
import {Refused, parseKeys, verify} from "./token.js";
export default {
  async fetch(request) {
    const vectors = await request.json();
    const results = [];
    for (const vector of vectors.vectors) {
      try {
        const grant = await verify(vector.token, vector.path, parseKeys(vectors.keys), vectors.now, vectors.max_lifetime_s);
        results.push({ok: true, kid: grant.kid, expires_at: grant.expiresAt, prefix: grant.prefix,
                      viewer: grant.viewer, key: grant.key});
      } catch (error) {
        if (!(error instanceof Refused)) throw error;
        results.push({ok: false, reason: error.reason});
      }
    }
    return Response.json(results);
  },
};`;

test("every vector gets the answer the Python code gives, in workerd", async () => {
  const mf = new Miniflare({
    modules: [{type: "ESModule", path: "runner.js", contents: RUNNER},
              {type: "ESModule", path: "token.js", contents: TOKEN_JS}],
    compatibilityDate: "2026-04-01",
  });
  try {
    const response = await mf.dispatchFetch("http://vectors.test/", {method: "POST", body: VECTORS});
    assert.equal(response.status, 200, await response.clone().text());
    const results = await response.json();
    const vectors = JSON.parse(VECTORS).vectors;
    assert.equal(results.length, vectors.length);
    vectors.forEach((vector, i) => assert.deepEqual(results[i], vector.expect, vector.name));
  } finally {
    await mf.dispose();
  }
});
