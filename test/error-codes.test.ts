// The one table of error codes (CAPI.md): the C++ list (errors.h, whose order is
// the numbering), the C header, the C# constants, the TypeScript table and the
// table in docs/capi.md must agree name for name and number for number.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/client/errors';

const root = path.resolve(__dirname, '..');
const read = (p: string): string => readFileSync(path.join(root, p), 'utf8');

/** errors.h's X-macro, in order: index i has the C code -i. */
function cppNames(): string[] {
  const body = read('native/include/diarkis/errors.h').split('#define DIARKIS_ERROR_CODES(X)')[1]!.split('enum class')[0]!;
  return [...body.matchAll(/X\(\w+, "([a-z-]+)"\)/g)].map((m) => m[1]!);
}

/** NAME = -n pairs, as [name, n] with the name in the strings' spelling. */
function constants(text: string, re: RegExp): Array<[string, number]> {
  return [...text.matchAll(re)].map((m) => [m[1]!.toLowerCase().replace(/_/g, '-'), Number(m[2])]);
}

describe('error codes: one table', () => {
  const names = cppNames();

  it('the C++ list starts with none and has every CAPI.md number once', () => {
    expect(names[0]).toBe('none');
    expect(names.length).toBe(30);
    expect(new Set(names).size).toBe(names.length);
  });

  it('diarkis.h numbers each code as minus its place in the C++ list', () => {
    const c = constants(read('bindings/c/include/diarkis.h'), /DK_ERR_(\w+) = (-\d+)/g);
    expect(c.length).toBe(names.length - 1);
    for (const [name, n] of c) expect(names[-n], `DK_ERR_${name}`).toBe(name);
    expect(read('bindings/c/include/diarkis.h')).toMatch(/DK_OK = 0,/);
  });

  it('the C# constants agree', () => {
    const cs = constants(read('bindings/unity/Plugins/Diarkis/Diarkis.cs'), /const int ERR_(\w+) = (-\d+);/g);
    expect(cs.length).toBe(names.length - 1);
    for (const [name, n] of cs) expect(names[-n], `ERR_${name}`).toBe(name);
  });

  it('the TypeScript table has exactly the same codes (none is no error)', () => {
    expect(Object.keys(ERROR_CODES).sort()).toEqual(names.slice(1).sort());
  });

  it('docs/capi.md lists the same numbers and names', () => {
    const rows = [...read('docs/capi.md').matchAll(/^\| (-?\d+) \| `DK_\w+` \| `([a-z-]+)` \|/gm)];
    expect(rows.length).toBe(names.length);
    for (const m of rows) expect(names[-Number(m[1])], m[0]).toBe(m[2]);
  });
});
