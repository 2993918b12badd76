// The linter `npm test` runs (`npm run lint`): neostandard (standard's rules for ESLint 9, TypeScript
// included) and lines of at most 120 characters. `npm run lint -- --fix` mends what it can.
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'coverage/**', '.tap/**', 'sdk/dist/**', '.ci/**', 'bench/.work/**', 'clients/**'],
  }),
  {
    files: ['console/public/**/*.js'],
    languageOptions: {
      globals: {
        window: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
        location: 'readonly',
        history: 'readonly',
        Node: 'readonly',
      },
    },
  },
  {
    rules: {
      '@stylistic/max-len': ['error', { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true }],
      // `void promise` marks a promise deliberately not awaited (its errors handled where it is made).
      'no-void': ['error', { allowAsStatement: true }],
      // Its loops are stopped from another async task (`while (!stop)`) or by a method (`d.setUTCDate`),
      // which the rule cannot see: every report here was a false one.
      'no-unmodified-loop-condition': 'off',
    },
  },
  {
    // These tests write configuration files, whose `${NAME}` references are literal text.
    files: ['test/config/**', 'test/ops/container-files.test.ts'],
    rules: { 'no-template-curly-in-string': 'off' },
  },
]
