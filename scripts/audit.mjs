#!/usr/bin/env node
// The CI audit step: a high or critical advisory in a PRODUCTION dependency (what the
// image ships) fails with exit 1 and one line per package; advisories that touch only
// dev dependencies (compiler, CDK, test tools) are reported and do not fail.
// When the advisory database cannot be reached (offline machine, a registry mirror
// without the audit endpoint) it says so loudly and exits 0, because that is not a
// finding; LBTA_AUDIT_REQUIRED=1 turns that case into a failure too.
//
//   node scripts/audit.mjs                      run npm audit (twice: --omit=dev, then all)
//   node scripts/audit.mjs --prod-json F --all-json G   judge saved `npm audit --json` output
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const FAILING = new Set(['high', 'critical']);
const say = (line) => process.stdout.write(`audit: ${line}\n`);

function npmAudit(extra) {
  const r = spawnSync('npm', ['audit', '--json', ...extra], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return r.stdout ?? '';
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return { error: { summary: `npm audit printed no JSON: ${String(text).trim().split('\n')[0] ?? ''}` } };
  }
}

/** undefined when the report is usable, else why not. */
function unusable(report) {
  if (report && typeof report === 'object' && report.metadata && report.metadata.vulnerabilities) return undefined;
  const why = report?.message ?? report?.error?.summary ?? report?.error?.code ?? 'no report';
  return String(why).split('\n')[0];
}

function fixText(fix) {
  if (fix === true) return 'fix: npm audit fix';
  if (fix && typeof fix === 'object') return `fix: ${fix.name}@${fix.version}${fix.isSemVerMajor ? ' (semver-major)' : ''}`;
  return 'no fix available yet';
}

function titles(v) {
  const t = (v.via ?? []).filter((x) => typeof x === 'object').map((x) => `${x.title ?? '?'}${x.url ? ` <${x.url}>` : ''}`);
  const through = (v.via ?? []).filter((x) => typeof x === 'string');
  return t.length > 0 ? t.join('; ') : `through ${through.join(', ')}`;
}

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const prodFile = opt('--prod-json');
const allFile = opt('--all-json');
const prod = parse(prodFile ? readFileSync(prodFile, 'utf8') : npmAudit(['--omit=dev']));
const all = parse(allFile ? readFileSync(allFile, 'utf8') : npmAudit([]));

const prodProblem = unusable(prod);
if (prodProblem !== undefined) {
  say(`WARNING: npm audit could not run, production dependencies were NOT checked: ${prodProblem}`);
  if (process.env.LBTA_AUDIT_REQUIRED === '1') {
    say('FAILED: LBTA_AUDIT_REQUIRED=1 and the audit could not run');
    process.exit(1);
  }
  process.exit(0);
}

const prodVulns = Object.values(prod.vulnerabilities ?? {});
const failing = prodVulns.filter((v) => FAILING.has(v.severity));
const counts = prod.metadata.vulnerabilities;
say(`production dependencies: ${counts.total} advisories (critical ${counts.critical}, high ${counts.high}, moderate ${counts.moderate}, low ${counts.low})`);
for (const v of prodVulns) say(`  ${v.severity} ${v.name} ${v.range ?? ''}: ${titles(v)}; ${fixText(v.fixAvailable)}`);

const allProblem = unusable(all);
if (allProblem !== undefined) say(`dev dependencies not checked: ${allProblem}`);
else {
  const prodNames = new Set(prodVulns.map((v) => v.name));
  const devOnly = Object.values(all.vulnerabilities ?? {}).filter((v) => !prodNames.has(v.name));
  say(`dev-only dependencies: ${devOnly.length} advisories (reported, not failing: they are not in the image)`);
  for (const v of devOnly) say(`  ${v.severity} ${v.name} ${v.range ?? ''}: ${titles(v)}; ${fixText(v.fixAvailable)}`);
}

if (failing.length > 0) {
  say(`FAILED: ${failing.length} high/critical advisories in production dependencies: ${failing.map((v) => `${v.name} (${v.severity})`).join(', ')}`);
  process.exit(1);
}
say('OK: no high or critical advisory in production dependencies');
