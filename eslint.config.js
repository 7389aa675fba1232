import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers' import direction (DESIGN.md: two transports, one core): each entry names
 * the files of a layer and the imports they may not use. A wrong import fails `npm run lint`.
 */
const layers = [
  {
    name: 'domain',
    files: ['src/domain/**'],
    patterns: [
      {
        regex: '^(?!\\./|node:|\\.\\./\\.\\./generated/error-codes\\.js$)',
        message: 'src/domain is shared by the core, the store and the providers: it imports only itself and the spec\'s error codes (generated/error-codes.js).',
      },
    ],
  },
  {
    name: 'core',
    files: ['src/agents/**'],
    patterns: [
      { regex: '(^|/)(gateway|commands)/', message: 'The core knows no transport: the edges call it, never the other way.' },
      { regex: '(^|/)providers/(?!types\\.js$)', message: 'The core knows the provider interface (providers/types.js) only, never an adapter.' },
      { regex: '(^|/)sessions/(?!store\\.js$)', message: 'The core knows the store interface (sessions/store.js) only, never an implementation.' },
      { regex: '(^|/)generated/(?!spec-constants\\.js$|error-codes\\.js$)', message: 'The core takes domain values: no wire types, validators or operations of the HTTP spec.' },
      { regex: '^(express|node:https?|openai|@anthropic-ai/.*|better-sqlite3)(/|$)', message: 'The core uses no framework, transport or provider SDK.' },
      {
        regex: '(^|/)observability/|^(prom-client|pino|pino-pretty|@opentelemetry/.*)(/|$)',
        message: 'The core reports to the CoreObserver it is given (domain/telemetry.js); metrics, logs and traces are built outside it.',
      },
    ],
  },
  {
    name: 'providers',
    files: ['src/providers/**'],
    patterns: [
      { regex: '(^|/)(agents|sessions|gateway|commands)/|(^|/)app\\.js$', message: 'Adapters know the provider interface and the domain only: never the core, the store or a transport.' },
      { regex: '(^|/)generated/', message: 'Adapters speak their upstream\'s API, not this gateway\'s spec.' },
      { regex: '^express(/|$)', message: 'Adapters use no server framework.' },
      {
        regex: '(^|/)observability/|^(prom-client|pino|pino-pretty|@opentelemetry/.*)(/|$)',
        message: 'Adapters report upstream calls to StreamOptions.observer (domain/telemetry.js), never to a metrics or log library.',
      },
    ],
  },
  {
    name: 'sessions',
    files: ['src/sessions/**'],
    patterns: [
      { regex: '(^|/)(agents|providers|gateway|commands)/|(^|/)app\\.js$', message: 'The store knows the domain only: never the core, a provider or a transport.' },
      { regex: '(^|/)generated/', message: 'The store knows nothing of the HTTP spec.' },
      { regex: '^express(/|$)', message: 'The store uses no server framework.' },
    ],
  },
  {
    name: 'http edge',
    files: ['src/gateway/**'],
    patterns: [
      { regex: '(^|/)(providers|sessions|commands)/|(^|/)app\\.js$', message: 'The HTTP edge calls the agent core only (agents/core-api.js), never a provider or the store.' },
      { regex: '^(openai|@anthropic-ai/.*|better-sqlite3)(/|$)', message: 'The HTTP edge uses no provider SDK or store driver.' },
      {
        regex: '^@opentelemetry/(?!api$)',
        message: "OpenTelemetry's SDK is loaded only when tracing is on: import it in src/observability/tracing-sdk.ts alone (tracing.ts imports that dynamically).",
      },
    ],
  },
  {
    name: 'composition and observability',
    files: ['src/commands/**', 'src/app.ts', 'src/observability/**'],
    ignores: ['src/observability/tracing-sdk.ts'],
    patterns: [
      {
        regex: '^@opentelemetry/(?!api$)',
        message: "OpenTelemetry's SDK is loaded only when tracing is on: import it in src/observability/tracing-sdk.ts alone (tracing.ts imports that dynamically).",
      },
    ],
  },
];

const ERROR_BUILDERS = ['src/domain/errors.ts', 'src/gateway/http-errors.ts'];
const NEW_ERROR = {
  selector: 'NewExpression[callee.name=/^(GatewayError|HttpError)$/]',
  message: 'Build errors with the functions of src/domain/errors.ts (or src/gateway/http-errors.ts at the HTTP edge).',
};
/** The code every request runs through (not configuration loading or the commands, which run once). */
const REQUEST_PATH = ['src/agents/**', 'src/domain/**', 'src/gateway/**', 'src/observability/**', 'src/providers/**', 'src/sessions/**'];
/**
 * On Node 20's V8, an object literal that starts with a spread and then gets more
 * properties (`{ ...a, b }`, `{ ...a, ...b }`) leaves the young generation with
 * everything it references, however short-lived: ~1 kB per such object promoted and
 * 10x the scavenge time in a loop, 3.6-5 kB per turn in the gateway
 * (docs/decisions/0020-no-leading-spreads.md).
 */
const LEADING_SPREAD = {
  selector: "ObjectExpression[properties.length>1][properties.0.type='SpreadElement']",
  message:
    'An object literal starting with a spread and adding properties is promoted out of the young generation on Node 20 (docs/decisions/0020-no-leading-spreads.md): put a plain property first, or use Object.assign({}, a, b) for objects of our own.',
};

export default tseslint.config(
  { ignores: ['dist/', 'generated/', 'node_modules/', 'coverage/', 'test/reference-client/clawdbot/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['scripts/**/*.mjs', 'scripts/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', structuredClone: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...layers.map(({ files, ignores, patterns }) => ({ files, ...(ignores ? { ignores } : {}), rules: { 'no-restricted-imports': ['error', { patterns }] } })),
  // Errors are built in one place per layer: the domain's and the HTTP edge's own.
  { files: ['src/**'], ignores: [...ERROR_BUILDERS, ...REQUEST_PATH], rules: { 'no-restricted-syntax': ['error', NEW_ERROR] } },
  { files: REQUEST_PATH, ignores: ERROR_BUILDERS, rules: { 'no-restricted-syntax': ['error', NEW_ERROR, LEADING_SPREAD] } },
  { files: ERROR_BUILDERS, rules: { 'no-restricted-syntax': ['error', LEADING_SPREAD] } },
);
