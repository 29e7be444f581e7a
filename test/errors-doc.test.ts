import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { it } from 'node:test';
import { errorCatalogue } from '../runtime/errors.ts';

// The error catalogue and its reference page move together: a code without its section, or a
// section for a code that no longer exists, fails here.
it('docs/reference/errors.md has exactly one section per catalogue code, in catalogue order', async () => {
  const text = await readFile(new URL('../docs/reference/errors.md', import.meta.url), 'utf8');
  const headings = [...text.matchAll(/^### (RECSYNC_ERR_[A-Z_]+)\s*$/gm)].map((match) => match[1]);
  assert.deepEqual(headings, Object.keys(errorCatalogue));
});
