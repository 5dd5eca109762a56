// docs/capi.md is the C ABI's reference: it must keep up with diarkis.h. Every exported function's
// prototype, every constant with its number and every struct field must be there, and the offsets
// and sizes it gives must be what a compiler lays out for x86-64 and i686 (clang checks them).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const HEADER = path.join(root, 'bindings/c/include/diarkis.h');
const header = readFileSync(HEADER, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
const doc = readFileSync(path.join(root, 'docs/capi.md'), 'utf8');
const squash = (s: string): string => s.replace(/\s+/g, ' ').replace(/\( /g, '(').replace(/ \)/g, ')').trim();

/** `int DK_CALL dk_send(dk_context* ctx, ...)` for every DK_API declaration, spacing normalised. */
function prototypes(text: string, marker: RegExp): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(marker)) {
    const decl = squash(m[1]!);
    out.set(/(dk_\w+)\(/.exec(decl)![1]!, decl);
  }
  return out;
}

/** The C code blocks of the reference. */
const docCode = [...doc.matchAll(/```c\n([\s\S]*?)```/g)].map((m) => m[1]!).join('\n');

interface FieldRow {
  struct: string;
  field: string;
  off64: number;
  off32: number;
}

/** The rows of each `### \`dk_x\`` table: field offsets, and (size) rows as field ''. */
function docFields(): FieldRow[] {
  const rows: FieldRow[] = [];
  for (const section of doc.split(/^### /m).slice(1)) {
    const name = /^`(dk_\w+)`/.exec(section)?.[1];
    if (name === undefined) continue;
    for (const m of section.matchAll(/^\| (\d+) \| (\d+) \| (?:`(\w+)`|\(size\)) \|/gm)) {
      rows.push({ struct: name, field: m[3] ?? '', off64: Number(m[1]), off32: Number(m[2]) });
    }
  }
  return rows;
}

/** Field names of each struct in the header (comments removed). */
function headerFields(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of header.matchAll(/typedef struct (dk_\w+) \{([^}]*)\} \1;/g)) {
    const names: string[] = [];
    for (const decl of m[2]!.split(';')) {
      const d = decl.replace(/\[[^\]]*\]/g, '').trim();
      if (d === '') continue;
      // `uint64_t a, b, c` or `const char* host`: the names after the type.
      const parts = d.split(',').map((p) => p.trim());
      names.push(/(\w+)$/.exec(parts[0]!)![1]!, ...parts.slice(1));
    }
    out.set(m[1]!, names);
  }
  return out;
}

describe('docs/capi.md against diarkis.h', () => {
  it('documents every exported function with the header\'s prototype, and no other', () => {
    const inHeader = prototypes(header, /^DK_API ([^;]*?\bdk_\w+\([^;]*?\));/gm);
    const inDoc = prototypes(docCode, /^((?:const )?[\w*]+\*? ?DK_CALL dk_\w+\([^;]*?\));/gm);
    expect(inHeader.size).toBeGreaterThan(20);
    for (const [name, decl] of inHeader) expect(inDoc.get(name), `${name} in docs/capi.md`).toBe(decl);
    expect([...inDoc.keys()].sort()).toEqual([...inHeader.keys()].sort());
  });

  it('documents every constant with its number', () => {
    const constants = [...header.matchAll(/\b(DK_[A-Z0-9_]+) = (-?\d+)/g)];
    expect(constants.length).toBeGreaterThan(60);
    for (const [, name, value] of constants) {
      expect(doc, `${name} = ${value}`).toMatch(new RegExp(`^\\| ${value} \\| \`${name}\` \\|`, 'm'));
    }
    const version = /#define DK_API_VERSION (\d+)/.exec(header)![1]!;
    expect(docCode).toContain(`#define DK_API_VERSION ${version}`);
  });

  it('lists every field of every struct, in order', () => {
    const rows = docFields();
    for (const [struct, fields] of headerFields()) {
      const documented = rows.filter((r) => r.struct === struct && r.field !== '').map((r) => r.field);
      expect(documented, struct).toEqual(fields);
      expect(rows.filter((r) => r.struct === struct && r.field === ''), `${struct} size row`).toHaveLength(1);
    }
  });

  it.each([
    ['x86_64-linux-gnu', 'off64'],
    ['i686-linux-gnu', 'off32'],
  ] as const)('gives the offsets and sizes clang lays out for %s', (target, key) => {
    const asserts = docFields().map((r) =>
      r.field === ''
        ? `_Static_assert(sizeof(${r.struct}) == ${r[key]}, "sizeof(${r.struct}) is not ${r[key]}");`
        : `_Static_assert(offsetof(${r.struct}, ${r.field}) == ${r[key]}, "${r.struct}.${r.field} is not at ${r[key]}");`,
    );
    expect(asserts.length).toBeGreaterThan(40);
    const dir = mkdtempSync(path.join(tmpdir(), 'capi-doc-'));
    try {
      const file = path.join(dir, 'offsets.c');
      writeFileSync(file, `#include "diarkis.h"\n${asserts.join('\n')}\n`);
      const args = [`--target=${target}`, '-ffreestanding', '-std=c11', '-fsyntax-only', `-I${path.dirname(HEADER)}`, file];
      try {
        execFileSync('clang', args, { stdio: 'pipe' });
      } catch (err) {
        throw new Error(`docs/capi.md offsets for ${target}:\n${String((err as { stderr?: Buffer }).stderr ?? err)}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
