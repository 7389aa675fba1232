// `npm run build`, last step: bundles the compiled CLI (dist/src/cli.js) and what it
// imports from node_modules into dist/bundle/, which bin/moltbot.mjs runs. One file per
// command (and per lazily imported part: providers, PostgreSQL, tracing) instead of ~300
// modules, because start-up was mostly Node's ESM loader resolving, reading and compiling
// them (docs/decisions/0017-bundled-command.md has the figures).
// Native and optional modules stay outside the bundle and load from node_modules as before.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;

/**
 * Packages Express 5 requires at load for features the gateway never uses: body-parser
 * (`express.json()` and friends; the gateway reads bodies itself, 0007), mime-types with
 * mime-db (`res.type`, `res.format`; the gateway writes its own headers) and qs (the
 * "extended" query parser; the gateway turns query parsing off). Loading them was 40% of
 * a start (0017). In the bundle each resolves to a stand-in that loads the real package on
 * first use, so nothing changes for code that does use them. body-parser's functions are
 * read off it at load (`exports.json = bodyParser.json`), so they are wrapped one by one;
 * the others are only used inside functions, so a Proxy defers them whole.
 */
const LAZY = {
  'body-parser': ['json', 'raw', 'text', 'urlencoded'],
  'mime-types': 'proxy',
  qs: 'proxy',
};

function lazyModule(name, shape) {
  const load = `let real; const load = () => (real ??= require(${JSON.stringify(name)}));`;
  if (shape === 'proxy') {
    return `${load}
module.exports = new Proxy({}, {
  get: (_, key) => load()[key],
  has: (_, key) => key in load(),
  ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor: (_, key) => {
    // Reported configurable: a Proxy may not call a property of its (empty) target fixed.
    const found = Reflect.getOwnPropertyDescriptor(load(), key);
    return found && { ...found, configurable: true };
  },
});`;
  }
  return `${load}\n${shape.map((fn) => `exports.${fn} = function ${fn}(...args) { return load().${fn}(...args); };`).join('\n')}`;
}

const lazyPackages = {
  name: 'lazy-packages',
  setup(plugin) {
    const filter = new RegExp(`^(${Object.keys(LAZY).join('|')})$`);
    plugin.onResolve({ filter }, (args) => (args.namespace === 'lazy' ? undefined : { path: args.path, namespace: 'lazy' }));
    plugin.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => ({ contents: lazyModule(args.path, LAZY[args.path]), resolveDir: root, loader: 'js' }));
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [`${root}dist/src/cli.js`],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  // better-sqlite3 loads its native addon by path; pg and pino-pretty are loaded only
  // when configured (a PostgreSQL store, pretty logs) and stay ordinary packages. undici
  // is imported with `import()` on the first upstream request: a CommonJS package
  // imported that way from a split bundle gets only a default export from esbuild
  // (`buildConnector is not a function`), so Node's loader keeps loading it, as before.
  external: ['better-sqlite3', 'pg', 'pino-pretty', 'undici'],
  // Names stay as written (stack traces, error names); whitespace and syntax shrink the
  // text V8 decodes and parses (5.9 -> 4.0 MB).
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [lazyPackages],
  logLevel: 'warning',
  // CommonJS packages inside an ES module bundle still call require().
  banner: { js: "import { createRequire as __moltbotCreateRequire } from 'node:module'; const require = __moltbotCreateRequire(import.meta.url);" },
});
