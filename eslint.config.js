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
    languageOptions: { globals: { window: 'readonly', document: 'readonly', fetch: 'readonly', location: 'readonly' } },
  },
  {
    rules: {
      '@stylistic/max-len': ['error', { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true }],
    },
  },
]
