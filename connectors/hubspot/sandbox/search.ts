import { ApiError, invalidInput } from './errors.ts';
import type { ObjectType } from './types.ts';

/** HubSpot's usage guide: at most 5 groups of at most 6 filters, 18 filters in all. */
const MAX_GROUPS = 5;
const MAX_FILTERS_PER_GROUP = 6;
const MAX_FILTERS = 18;
export const MAX_SEARCH_LIMIT = 200;
/** Search pages stop at 10,000 results whatever the total. */
export const MAX_SEARCH_RESULTS = 10_000;
const MAX_QUERY_LENGTH = 3000;

const OPERATORS = [
  'EQ', 'NEQ', 'LT', 'LTE', 'GT', 'GTE', 'BETWEEN', 'IN', 'NOT_IN',
  'HAS_PROPERTY', 'NOT_HAS_PROPERTY', 'CONTAINS_TOKEN', 'NOT_CONTAINS_TOKEN',
] as const;
type Operator = (typeof OPERATORS)[number];

export interface Filter {
  propertyName: string;
  operator: Operator;
  value?: string;
  highValue?: string;
  values?: string[];
}

export interface Sort {
  propertyName: string;
  descending: boolean;
}

export interface SearchRequest {
  groups: Filter[][];
  sorts: Sort[];
  properties: string[] | undefined;
  limit: number;
  after: number;
  query: string | undefined;
}

/** Properties the free-text `query` looks at, as HubSpot's default searchable properties. */
const QUERY_PROPERTIES: Record<ObjectType, readonly string[]> = {
  contacts: ['firstname', 'lastname', 'email', 'phone', 'company', 'website'],
  companies: ['name', 'domain', 'website', 'phone'],
};

/** Validates a search body into a normalised request, or throws HubSpot's 400. */
export function parseSearch(body: unknown): SearchRequest {
  const input = body === undefined ? {} : body;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalidInput('Invalid input JSON: expected an object.');
  const raw = input as Record<string, unknown>;

  const groupsIn = raw.filterGroups ?? [];
  if (!Array.isArray(groupsIn)) throw invalidInput('Invalid input JSON: "filterGroups" must be an array.');
  if (groupsIn.length > MAX_GROUPS) throw invalidInput(`Too many filter groups: ${groupsIn.length}. The maximum is ${MAX_GROUPS}.`);
  let total = 0;
  const groups = groupsIn.map((group: unknown) => {
    const filters = isObject(group) ? group.filters ?? [] : undefined;
    if (!Array.isArray(filters)) throw invalidInput('Invalid input JSON: each filter group needs a "filters" array.');
    if (filters.length > MAX_FILTERS_PER_GROUP) {
      throw invalidInput(`Too many filters in a group: ${filters.length}. The maximum is ${MAX_FILTERS_PER_GROUP}.`);
    }
    total += filters.length;
    return filters.map(parseFilter);
  });
  if (total > MAX_FILTERS) throw invalidInput(`Too many filters: ${total}. The maximum is ${MAX_FILTERS}.`);

  const limit = raw.limit === undefined ? 10 : raw.limit;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0 || limit > MAX_SEARCH_LIMIT) {
    throw invalidInput(`limit must be an integer between 0 and ${MAX_SEARCH_LIMIT}.`);
  }
  const afterRaw = raw.after === undefined || raw.after === null || raw.after === '' ? '0' : String(raw.after);
  if (!/^\d+$/.test(afterRaw)) throw invalidInput(`Invalid paging cursor: ${afterRaw}`);
  const after = Number(afterRaw);
  if (after >= MAX_SEARCH_RESULTS) {
    throw invalidInput(`Search results are limited to ${MAX_SEARCH_RESULTS} records; after=${after} is past the end.`);
  }

  const query = raw.query;
  if (query !== undefined && typeof query !== 'string') throw invalidInput('Invalid input JSON: "query" must be a string.');
  if (typeof query === 'string' && query.length > MAX_QUERY_LENGTH) throw invalidInput(`query is longer than ${MAX_QUERY_LENGTH} characters.`);

  const properties = raw.properties;
  if (properties !== undefined && !(Array.isArray(properties) && properties.every((p) => typeof p === 'string'))) {
    throw invalidInput('Invalid input JSON: "properties" must be an array of strings.');
  }

  return { groups, sorts: parseSorts(raw.sorts), properties, limit, after, query: query === '' ? undefined : query };
}

function parseFilter(raw: unknown): Filter {
  if (!isObject(raw) || typeof raw.propertyName !== 'string' || typeof raw.operator !== 'string') {
    throw invalidInput('Invalid input JSON: each filter needs "propertyName" and "operator".');
  }
  const operator = raw.operator as Operator;
  if (!OPERATORS.includes(operator)) throw invalidInput(`Unknown filter operator: ${raw.operator}`);
  const filter: Filter = { propertyName: raw.propertyName, operator };
  if (raw.value !== undefined && raw.value !== null) filter.value = String(raw.value);
  if (raw.highValue !== undefined && raw.highValue !== null) filter.highValue = String(raw.highValue);
  if (Array.isArray(raw.values)) filter.values = raw.values.map(String);
  const needsValue = !['HAS_PROPERTY', 'NOT_HAS_PROPERTY', 'IN', 'NOT_IN'].includes(operator);
  if (needsValue && filter.value === undefined) throw invalidInput(`Filter ${operator} on ${filter.propertyName} needs a "value".`);
  if (operator === 'BETWEEN' && filter.highValue === undefined) throw invalidInput(`Filter BETWEEN on ${filter.propertyName} needs a "highValue".`);
  if ((operator === 'IN' || operator === 'NOT_IN') && filter.values === undefined) {
    throw invalidInput(`Filter ${operator} on ${filter.propertyName} needs "values".`);
  }
  return filter;
}

function parseSorts(raw: unknown): Sort[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidInput('Invalid input JSON: "sorts" must be an array.');
  return raw.map((sort: unknown): Sort => {
    // The spec types sorts as strings ("createdate", "-createdate"); the docs show objects. Accept both.
    if (typeof sort === 'string') {
      return sort.startsWith('-') ? { propertyName: sort.slice(1), descending: true } : { propertyName: sort, descending: false };
    }
    if (isObject(sort) && typeof sort.propertyName === 'string') {
      return { propertyName: sort.propertyName, descending: sort.direction === 'DESCENDING' };
    }
    throw new ApiError(400, 'VALIDATION_ERROR', 'Invalid input JSON: each sort needs a "propertyName".');
  });
}

type Getter = (name: string) => string | undefined;

/** Filter groups are ORed, filters inside a group ANDed; no groups matches everything. */
export function matchesFilters(get: Getter, groups: Filter[][]): boolean {
  if (groups.length === 0) return true;
  return groups.some((filters) => filters.every((f) => matchesFilter(get(f.propertyName), f)));
}

function matchesFilter(actual: string | undefined, f: Filter): boolean {
  switch (f.operator) {
    case 'HAS_PROPERTY':
      return actual !== undefined;
    case 'NOT_HAS_PROPERTY':
      return actual === undefined;
    case 'EQ':
      return actual !== undefined && same(actual, f.value ?? '');
    case 'NEQ':
      return actual === undefined || !same(actual, f.value ?? '');
    case 'IN':
      return actual !== undefined && (f.values ?? []).some((v) => same(actual, v));
    case 'NOT_IN':
      return actual === undefined || !(f.values ?? []).some((v) => same(actual, v));
    case 'LT':
      return actual !== undefined && compare(actual, f.value ?? '') < 0;
    case 'LTE':
      return actual !== undefined && compare(actual, f.value ?? '') <= 0;
    case 'GT':
      return actual !== undefined && compare(actual, f.value ?? '') > 0;
    case 'GTE':
      return actual !== undefined && compare(actual, f.value ?? '') >= 0;
    case 'BETWEEN':
      return actual !== undefined && compare(actual, f.value ?? '') >= 0 && compare(actual, f.highValue ?? '') <= 0;
    case 'CONTAINS_TOKEN':
      return actual !== undefined && containsToken(actual, f.value ?? '');
    case 'NOT_CONTAINS_TOKEN':
      return actual === undefined || !containsToken(actual, f.value ?? '');
  }
}

/** Free-text search: every query word must start some word of one of the type's searchable properties. */
export function matchesQuery(get: Getter, type: ObjectType, query: string | undefined): boolean {
  if (query === undefined) return true;
  const words = tokens(query);
  if (words.length === 0) return true;
  const haystack = QUERY_PROPERTIES[type].flatMap((p) => {
    const value = get(p);
    return value === undefined ? [] : [value.toLowerCase(), ...tokens(value)];
  });
  return words.every((w) => haystack.some((h) => h.startsWith(w)));
}

export function compareValues(a: string | undefined, b: string | undefined): number {
  if (a === undefined) return b === undefined ? 0 : 1;
  if (b === undefined) return -1;
  return compare(a, b);
}

function same(actual: string, expected: string): boolean {
  const a = comparable(actual);
  const b = comparable(expected);
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  return actual.toLowerCase() === expected.toLowerCase();
}

/** Numbers and dates compare as numbers (dates as epoch ms, HubSpot's filter format); anything else as text. */
function compare(actual: string, expected: string): number {
  const a = comparable(actual);
  const b = comparable(expected);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = actual.toLowerCase();
  const y = expected.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

function comparable(value: string): number | string {
  if (/^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return ms;
  }
  return value;
}

function containsToken(actual: string, token: string): boolean {
  const pattern = token.toLowerCase();
  const candidates = [actual.toLowerCase(), ...tokens(actual)];
  if (!pattern.includes('*')) return candidates.includes(pattern);
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegex).join('.*')}$`);
  return candidates.some((c) => regex.test(c));
}

function tokens(value: string): string[] {
  return value.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((t) => t !== '');
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
