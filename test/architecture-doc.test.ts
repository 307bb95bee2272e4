import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * docs/architecture.md is a map of the files; a map naming files that moved sends the next person
 * to the wrong room. So every repository path it names in backticks must exist.
 */
const ROOT = path.join(__dirname, '..');
const DOC = readFileSync(path.join(ROOT, 'docs', 'architecture.md'), 'utf8');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const WORKSPACES: string[] = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).workspaces;

/** What `<service>/…` stands for: every folder with a service's `src/server.ts`. */
const SERVICES = readdirSync(ROOT).filter((name) => existsSync(path.join(ROOT, name, 'src', 'server.ts')));

const SKIPPED_DIRS = new Set(['node_modules', 'dist', '.git', '.data']);

/** Names of every file in the repository's own folders (for paths given as a bare file name). */
function fileNames(dir: string, into = new Set<string>()): Set<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) fileNames(path.join(dir, entry.name), into);
    } else into.add(entry.name);
  }
  return into;
}
const FILE_NAMES = fileNames(ROOT);

/** Inline code spans, outside fenced blocks. */
function codeSpans(markdown: string): string[] {
  return [...markdown.replace(/```[\s\S]*?```/g, '').matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
}

const PATH_LIKE = /^(<service>\/)?[\w-][\w.-]*(\/[\w.-]+)*\/?$/;
const FILE_EXTENSION = /\.(ts|js|json|md|sql|ya?ml)$/;

/**
 * The spans that look like repository paths: `a/b` (from the repository root, a trailing slash
 * for a folder), `<service>/a/b` (in every service), or a bare file name `a.ts` (somewhere).
 */
function repoPaths(markdown: string): string[] {
  return codeSpans(markdown).filter((s) => PATH_LIKE.test(s) && (s.includes('/') || FILE_EXTENSION.test(s)));
}

/** The paths of `markdown` that do not exist, as written. */
function missingPaths(markdown: string): string[] {
  return repoPaths(markdown).filter((p) => {
    if (p.startsWith('<service>/')) return !SERVICES.every((s) => existsSync(path.join(ROOT, s, p.slice('<service>/'.length))));
    if (!p.includes('/')) return !FILE_NAMES.has(p);
    return !existsSync(path.join(ROOT, p));
  });
}

describe('docs/architecture.md', () => {
  it('names only repository paths that exist', () => {
    expect(repoPaths(DOC).length).toBeGreaterThan(80);
    expect(missingPaths(DOC)).toEqual([]);
  });

  it('finds a path that does not exist, in each form, and leaves routes and code alone', () => {
    const sample = [
      '`shared/src/outbox/`, `gateway/src/proxy.ts`, `<service>/src/server.ts`, `deliveries.ts`',
      '`shared/src/outbox/nope.ts`, `gone/`, `<service>/src/routes.ts`, `nope.ts`',
      '`/webhook/meta`, `db.withTenant`, `in:<waId>`, `X-Tenant-ID`, `npm run bench`',
      '```\nnot/checked.ts\n```',
    ].join('\n');
    // routes.ts exists in some services only.
    expect(missingPaths(sample)).toEqual(['shared/src/outbox/nope.ts', 'gone/', '<service>/src/routes.ts', 'nope.ts']);
  });

  it('names every workspace', () => {
    const unnamed = WORKSPACES.filter((w) => !DOC.includes(`\`${w}/`));
    expect(unnamed).toEqual([]);
  });

  it('is linked from the README', () => {
    expect(README).toContain('](docs/architecture.md)');
  });
});
