/**
 * report.html: one self-contained page (inline CSS, images as base64 data URIs, a Content
 * Security Policy that forbids any fetch) with the headline, figures and tables. Built as a pure
 * string from the tables and the already-rendered figures.
 */
import type { DetectorProfile } from '../profile/types.js';
import type { Tables, Verdict } from './table-rows.js';
import { formatCell, type Cell } from './csv.js';
import { escapeXml } from './svg-plot.js';

export interface HtmlFigure {
  /** File name of the PNG in the output folder. */
  file: string;
  caption: string;
  png: Uint8Array;
  /** Shown at half width (layout maps), two per row. */
  small?: boolean;
}

export interface HtmlTable {
  title: string;
  file: string;
  columns: readonly string[];
  rows: readonly Record<string, Cell>[];
  /** Rows for which this returns true get the `collapsed` class. */
  isCollapsed?: (row: Record<string, Cell>) => boolean;
  /** Rows for which this returns true get the `chosen` class (the decision's design). */
  isChosen?: (row: Record<string, Cell>) => boolean;
  note?: string;
}

export interface HtmlReportInput {
  profile: DetectorProfile;
  tables: Tables;
  runId: string;
  createdAt: string;
  backend: string;
  versions: Record<string, string>;
  /** Where the images came from and how train / test were cut (shown under the title when known). */
  data?: string;
  split?: string;
  /** The design decision, shown above everything else: headline sentences, the rule, the front's figure and tables. */
  decision?: { sentences: string[]; rule?: string; figures: HtmlFigure[]; tables: HtmlTable[] };
  figures: HtmlFigure[];
  tableViews: HtmlTable[];
  /** `eval` reports: the data set the saved models were evaluated on (named in the title). */
  evaluatedOn?: { dataset: string; slices: number };
  /** Detector space: bits per channel, sinograms and reconstructions, and their numbers (after the headline, before the other figures). */
  detector?: { intro: string; figures: HtmlFigure[]; tables: HtmlTable[] };
  /** How the learned layouts were made (report/learned-note.ts), under the learned-vs-random headline. */
  learnedNote?: string;
}

function budgetPhrase(v: Verdict, profile: DetectorProfile): string {
  if (v.budget_kind === 'fraction') {
    return `${formatNum(100 * v.budget, 3)}% of pixels on the ${profile.modes[profile.modes.length - 1]}-bit ADC`;
  }
  return `${formatNum(v.budget, 4)} bits per pixel`;
}

function formatNum(x: number, digits = 3): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(digits))) : 'n/a';
}

/** Mean share of empty predictions per setup (and budget), e.g. "learned at 0.5: 12%". */
function emptyPredictionSentence(tables: Tables, dataset: string): string {
  const groups = new Map<string, number[]>();
  for (const r of tables.runs) {
    const key = r.budget !== undefined ? `${r.setup} at ${formatNum(r.budget, 4)}` : r.kept_bits !== undefined ? `${r.setup} ${r.kept_bits}-bit` : r.setup;
    groups.set(key, [...(groups.get(key) ?? []), r.empty_prediction_share]);
  }
  const parts = [...groups].map(([k, v]) => `${k} ${formatNum((100 * v.reduce((a, b) => a + b, 0)) / v.length, 3)}%`);
  return `Share of ${dataset}'s slices where the model predicted no lesion at all (mean over runs): ${parts.join('; ')}.`;
}

/** The plain-language headline: per budget, where the learned layout beats the random control and where not. */
export function headlineSentences(tables: Tables, profile: DetectorProfile, evaluatedOn?: { dataset: string; slices: number }): string[] {
  const out: string[] = [];
  if (evaluatedOn) {
    out.push(
      `Saved models evaluated on ${evaluatedOn.dataset} (${evaluatedOn.slices} slices). Low scores here are results, not collapse: ` +
        'a run counts as collapsed only if it failed in training (empty predictions on its validation data).',
    );
    out.push(emptyPredictionSentence(tables, evaluatedOn.dataset));
  }
  const vs = tables.verdicts;
  if (vs.length === 0) {
    out.push('There are no learned and random-control runs at the same budget, so this report makes no learned-versus-random comparison.');
  } else {
    // A claim ("beats", "is better") needs a paired interval across seeds; one seed's image bootstrap
    // is reported below per budget, but claims no winner (the project's rule, as in the decision).
    const claimed = (v: Verdict) => v.interval === 'seed_t';
    const group = (o: Verdict['outcome'], claim = true) => vs.filter((v) => v.outcome === o && claimed(v) === claim).map((v) => budgetPhrase(v, profile));
    const better = group('better');
    const worse = group('worse');
    const unclear = vs.filter((v) => v.outcome === 'no clear difference').map((v) => budgetPhrase(v, profile));
    const nc = group('not comparable', false);
    const oneSeed = vs.filter((v) => v.interval === 'image_boot' && (v.outcome === 'better' || v.outcome === 'worse')).map((v) => budgetPhrase(v, profile));
    const list = (xs: string[]) => xs.join('; ');
    if (better.length) out.push(`The learned layout beats the random control at: ${list(better)}.`);
    else out.push('The learned layout does not clearly beat the random control at any budget tested.');
    if (unclear.length) out.push(`No clear difference (the 95% interval of learned − random contains 0) at: ${list(unclear)}.`);
    if (worse.length) out.push(`The random control is better at: ${list(worse)}.`);
    if (oneSeed.length) out.push(`One seed: no claim at ${list(oneSeed)} (run --seeds 3 for a paired interval across seeds).`);
    if (nc.length) out.push(`Not comparable (no seed-matched pair of non-collapsed runs) at: ${list(nc)}.`);
    for (const v of vs) {
      if (v.interval === 'none') continue;
      const how = v.interval === 'seed_t' ? 'across seeds' : 'bootstrap over test images, one seed';
      out.push(
        `At ${budgetPhrase(v, profile)}: learned Dice ${formatNum(v.learned_mean)} vs. random ${formatNum(v.random_mean)}, ` +
          `difference ${formatNum(v.diff, 2)} (95% interval ${formatNum(v.lo, 2)} to ${formatNum(v.hi, 2)}, ${how}) — ${claimed(v) || v.outcome === 'no clear difference' ? v.outcome : 'one seed: no claim'}.`,
      );
    }
  }
  const collapsed = tables.runs.filter((r) => r.collapsed);
  if (collapsed.length) {
    out.push(
      `${collapsed.length} of ${tables.runs.length} runs collapsed${evaluatedOn ? ' in training' : ''} (empty or near-zero predictions) and are excluded from every mean: ` +
        `${collapsed.map((r) => r.id).join(', ')}.`,
    );
  }
  return out;
}

function tableHtml(t: HtmlTable): string {
  const head = t.columns.map((c) => `<th>${escapeXml(c)}</th>`).join('');
  const body = t.rows
    .map((r) => {
      const cls = t.isCollapsed?.(r) ? ' class="collapsed"' : t.isChosen?.(r) ? ' class="chosen"' : '';
      return `<tr${cls}>${t.columns.map((c) => `<td>${escapeXml(formatCell(r[c]))}</td>`).join('')}</tr>`;
    })
    .join('\n');
  const note = t.note ? `<p class="note">${escapeXml(t.note)}</p>` : '';
  return `<section><h3>${escapeXml(t.title)} <span class="file">${escapeXml(t.file)}</span></h3>${note}` +
    `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div></section>`;
}

function figureHtml(f: HtmlFigure): string {
  return `<figure${f.small ? ' class="small"' : ''}><img alt="${escapeXml(f.caption)}" src="data:image/png;base64,${Buffer.from(f.png).toString('base64')}">` +
    `<figcaption>${escapeXml(f.caption)} <span class="file">${escapeXml(f.file)}</span></figcaption></figure>`;
}

/** The first section: the decision sentence in bold, the other sentences, the rule, then the front. */
function decisionHtml(d: NonNullable<HtmlReportInput['decision']>): string {
  const [first, ...rest] = d.sentences;
  return `<section id="decision" class="decision">
<h2>Decision: the cheapest readout that keeps the diagnosis</h2>
${first !== undefined ? `<p class="verdict">${escapeXml(first)}</p>` : ''}
${rest.map((s) => `<p>${escapeXml(s)}</p>`).join('\n')}
${d.rule ? `<p class="rule">${escapeXml(d.rule)}</p>` : ''}
${d.figures.map(figureHtml).join('\n')}
${d.tables.map(tableHtml).join('\n')}
</section>`;
}

/** The detector-space section: what the channel ADCs read, how the layouts placed their bits, and what that does to the reconstruction. */
function detectorHtml(d: NonNullable<HtmlReportInput['detector']>): string {
  return `<section id="detector">
<h2>Detector space: the readings the channel ADCs digitise</h2>
<p>${escapeXml(d.intro)}</p>
${d.figures.map(figureHtml).join('\n')}
${d.tables.map(tableHtml).join('\n')}
</section>`;
}

/** The complete HTML page. */
export function reportHtml(input: HtmlReportInput): string {
  const { profile, tables } = input;
  const headline = headlineSentences(tables, profile, input.evaluatedOn).map((s) => `<li>${escapeXml(s)}</li>`).join('\n');
  const figures = input.figures.map(figureHtml).join('\n');
  const versions = Object.entries(input.versions).map(([k, v]) => `${escapeXml(k)} ${escapeXml(v)}`).join(', ');
  const budget = profile.budget.kind === 'fraction' ? `fraction ${profile.budget.value}` : `${profile.budget.value} bits per pixel`;
  // The script only reads the page: it marks whether every image decoded and counts errors, for headless checks.
  const script = `
(function () {
  var errors = 0;
  window.addEventListener('error', function () { errors++; document.documentElement.setAttribute('data-errors', String(errors)); }, true);
  function check() {
    var imgs = Array.prototype.slice.call(document.images);
    var ok = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
    document.documentElement.setAttribute('data-images', String(imgs.length));
    document.documentElement.setAttribute('data-images-ok', ok ? 'true' : 'false');
    document.documentElement.setAttribute('data-errors', String(errors));
  }
  if (document.readyState === 'complete') check(); else window.addEventListener('load', check);
})();`;
  return `<!DOCTYPE html>
<html lang="en" data-images-ok="pending">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ctquant report — ${escapeXml(profile.name)} — ${escapeXml(input.runId)}${input.evaluatedOn ? ` — evaluated on ${escapeXml(input.evaluatedOn.dataset)}` : ''}</title>
<style>
body { font-family: 'DejaVu Sans', Arial, Helvetica, sans-serif; margin: 24px auto; max-width: 1200px; color: #222; line-height: 1.45; padding: 0 16px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
.meta { color: #555; font-size: 0.9em; }
.headline { background: #f3f7fb; border-left: 4px solid #0072B2; padding: 8px 16px; }
.headline li { margin: 4px 0; }
.decision { border: 2px solid #0072B2; border-radius: 4px; padding: 4px 16px 8px; margin: 12px 0 20px; }
.decision .verdict { font-size: 1.15em; font-weight: bold; }
.decision .rule { font-size: 0.85em; color: #444; }
figure { display: inline-block; margin: 10px; vertical-align: top; max-width: 100%; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figure.small { max-width: 46%; }
figcaption { font-size: 0.85em; color: #444; max-width: 760px; }
.file { font-family: 'DejaVu Sans Mono', monospace; font-size: 0.8em; color: #777; font-weight: normal; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.78em; margin: 6px 0 18px; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; position: sticky; top: 0; }
tr.collapsed td { background: #fde8e8; color: #8a1f1f; }
tr.chosen td { background: #e3f3e3; font-weight: bold; }
.note { font-size: 0.85em; color: #555; }
</style>
</head>
<body>
<h1>ctquant report: ${escapeXml(profile.name)}${input.evaluatedOn ? ` — evaluated on ${escapeXml(input.evaluatedOn.dataset)} (${input.evaluatedOn.slices} slices)` : ''}</h1>
${input.decision ? decisionHtml(input.decision) : ''}
<p class="meta">Run ${escapeXml(input.runId)} · ${escapeXml(input.createdAt)} · ${profile.detector ? `detector ${profile.detector.channels} channels × ${profile.detector.views} views, image grid ${profile.rows}×${profile.cols}` : `detector ${profile.rows}×${profile.cols} readout pixels`}, native ${profile.nativeBits}-bit,
reduced modes ${profile.modes.map((m) => `${m}-bit`).join(', ')} (${profile.rule}), budget ${escapeXml(budget)} · backend ${escapeXml(input.backend)} · ${versions}</p>
<p>${escapeXml(profile.description)}</p>
${input.data !== undefined || input.split !== undefined ? `<p class="meta">Data: ${escapeXml(input.data ?? 'not recorded')} · split: ${escapeXml(input.split ?? 'not recorded')}</p>\n` : ''}<h2>Learned layout against the random control</h2>
<ul class="headline">
${headline}
</ul>
<p class="note">"Beats" means the 95% interval of the paired difference (learned − random, matched by seed) lies above zero:
a t-interval across seeds (at least two); with one seed the bootstrap over test images is shown but claims no winner. Rows shaded red in the
tables are collapsed runs; they are counted (n_collapsed) but never averaged in.</p>
${input.learnedNote ? `<p class="note">${escapeXml(input.learnedNote)}</p>\n` : ''}${input.detector ? detectorHtml(input.detector) : ''}
<h2>Figures</h2>
${figures}
<h2>Tables</h2>
${input.tableViews.map(tableHtml).join('\n')}
<script>${script}</script>
</body>
</html>
`;
}
