/** The global the instrumented agent/ modules count into (see coverage-hooks.ts). */
export const COVERAGE_VARIABLE = '__fuzzCoverage';
