import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';

/**
 * ajv errors turned into one readable line each: the JSON pointer and what was expected,
 * not ajv's raw wording. Shared by every schema the tool reads (profiles, configs, manifests).
 */
export interface SchemaProblem {
  pointer: string;
  message: string;
}

const ajv = new Ajv2020({ allErrors: true, strict: true, useDefaults: false });
const compiled = new Map<string, ValidateFunction>();

export function compileSchema(schema: { $id: string }): ValidateFunction {
  let v = compiled.get(schema.$id);
  if (!v) {
    v = ajv.getSchema(schema.$id) ?? ajv.compile(schema);
    compiled.set(schema.$id, v);
  }
  return v;
}

export function schemaProblems(validate: ValidateFunction, data: unknown): SchemaProblem[] {
  if (validate(data)) return [];
  const errors = validate.errors ?? [];
  const problems = errors.map((e) => describe(e, data));
  // One problem per pointer: ajv reports e.g. both `type` and `enum` for one bad value.
  const seen = new Set<string>();
  return problems.filter((p) => (seen.has(p.pointer) ? false : (seen.add(p.pointer), true)));
}

function describe(e: ErrorObject, data: unknown): SchemaProblem {
  const at = e.instancePath || '';
  const value = valueAt(data, at);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { pointer: `${at}/${String(params.missingProperty)}`, message: 'required field is missing' };
    case 'additionalProperties':
      return {
        pointer: `${at}/${String(params.additionalProperty)}`,
        message: `unknown key "${String(params.additionalProperty)}"`,
      };
    case 'type':
      return { pointer: at || '/', message: `expected ${withArticle(String(params.type))}, got ${show(value)}` };
    case 'enum':
      return {
        pointer: at || '/',
        message: `expected one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${show(value)}`,
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const op = { minimum: '>=', maximum: '<=', exclusiveMinimum: '>', exclusiveMaximum: '<' }[e.keyword];
      return { pointer: at, message: `expected a number ${op} ${String(params.limit)}, got ${show(value)}` };
    }
    case 'minItems':
      return { pointer: at, message: `expected at least ${String(params.limit)} item(s), got ${show(value)}` };
    case 'minLength':
      return { pointer: at, message: `expected a non-empty string, got ${show(value)}` };
    case 'uniqueItems':
      return { pointer: at, message: `expected distinct items, got ${show(value)}` };
    default:
      return { pointer: at || '/', message: e.message ?? 'invalid value' };
  }
}

function valueAt(data: unknown, pointer: string): unknown {
  let cur: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array ${truncate(JSON.stringify(v))}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${truncate(JSON.stringify(v))}`;
  return `${typeof v} ${String(v)}`;
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function withArticle(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
