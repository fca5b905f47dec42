/**
 * The defaults a JSON Schema states with its `default` keywords, as one value: an object schema
 * with `properties` yields an object of its properties' defaults (nested objects likewise), a
 * leaf its `default`. Properties without a default (e.g. `$schema`) are left out.
 */
export interface SchemaNode {
  default?: unknown;
  properties?: Record<string, SchemaNode>;
}

export function schemaDefaults(schema: SchemaNode): unknown {
  if (schema.default !== undefined) return structuredClone(schema.default);
  if (!schema.properties) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(schema.properties)) {
    const value = schemaDefaults(child);
    if (value !== undefined) out[key] = value;
  }
  return out;
}
