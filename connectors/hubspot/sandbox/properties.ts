import { ApiError } from './errors.ts';
import type { ObjectType } from './types.ts';

const WRITABLE: Record<ObjectType, readonly string[]> = {
  contacts: [
    'email', 'firstname', 'lastname', 'phone', 'mobilephone', 'company', 'jobtitle', 'lifecyclestage',
    'city', 'state', 'country', 'zip', 'address', 'website', 'recsync_id',
  ],
  companies: [
    'name', 'domain', 'industry', 'phone', 'city', 'state', 'country', 'numberofemployees', 'annualrevenue',
    'description', 'website', 'recsync_id',
  ],
};

/** Companies name their modification date `hs_lastmodifieddate`; contacts keep the legacy `lastmodifieddate`. */
export const MODIFIED_PROPERTY: Record<ObjectType, string> = { contacts: 'lastmodifieddate', companies: 'hs_lastmodifieddate' };

/** Computed by HubSpot, returned on every read, refused on write. */
export const SYSTEM_PROPERTIES: Record<ObjectType, readonly string[]> = {
  contacts: ['createdate', 'hs_object_id', 'lastmodifieddate'],
  companies: ['createdate', 'hs_lastmodifieddate', 'hs_object_id'],
};

/** What a read returns when it names no properties (HubSpot's defaults). */
export const DEFAULT_READ_PROPERTIES: Record<ObjectType, readonly string[]> = {
  contacts: ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'],
  companies: ['createdate', 'domain', 'hs_lastmodifieddate', 'hs_object_id', 'name'],
};

/** Properties with `hasUniqueValue`, usable as `idProperty`. */
export const UNIQUE_PROPERTIES: Record<ObjectType, readonly string[]> = {
  contacts: ['email', 'recsync_id'],
  companies: ['recsync_id'],
};

/** Contacts need one of these on create. */
export const CONTACT_IDENTITY = ['email', 'firstname', 'lastname'] as const;

const LIFECYCLE_STAGES = [
  'subscriber', 'lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer', 'evangelist', 'other',
];

// Deliberately loose: HubSpot's own check accepts far more than RFC 5322 purists would, but never a missing @ or domain.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface PropertyIssue {
  name: string;
  error: string;
  message: string;
}

/** Normalises a unique value for index lookups: email is case-insensitive, custom unique properties are not. */
export function uniqueKey(property: string, value: string): string {
  return property === 'email' ? value.toLowerCase() : value;
}

export class PropertyCatalog {
  readonly #writable: Record<ObjectType, Set<string>>;

  constructor(extra: Partial<Record<ObjectType, string[]>> = {}) {
    this.#writable = {
      contacts: new Set([...WRITABLE.contacts, ...(extra.contacts ?? [])]),
      companies: new Set([...WRITABLE.companies, ...(extra.companies ?? [])]),
    };
  }

  isReadable(type: ObjectType, name: string): boolean {
    return this.#writable[type].has(name) || SYSTEM_PROPERTIES[type].includes(name);
  }

  /**
   * Coerces a `properties` input to stored strings, or throws the 400 HubSpot gives for the whole set.
   * Numbers and booleans become their string form (HubSpot stores every value as a string); null and "" clear.
   */
  parse(type: ObjectType, input: unknown): Record<string, string> {
    const result = this.check(type, input);
    if (Array.isArray(result)) throw validationError(result);
    return result;
  }

  /** Like `parse`, but returns the issues instead of throwing (batch inputs fail one by one). */
  check(type: ObjectType, input: unknown): Record<string, string> | PropertyIssue[] {
    if (input === undefined || input === null) return {};
    if (typeof input !== 'object' || Array.isArray(input)) {
      throw new ApiError(400, 'VALIDATION_ERROR', 'Invalid input JSON: "properties" must be an object of property names to values.');
    }
    const values: Record<string, string> = {};
    const issues: PropertyIssue[] = [];
    for (const [name, raw] of Object.entries(input)) {
      if (SYSTEM_PROPERTIES[type].includes(name)) {
        issues.push({ name, error: 'READ_ONLY_VALUE', message: `Property "${name}" is a read only property; its value cannot be set.` });
        continue;
      }
      if (!this.#writable[type].has(name)) {
        issues.push({ name, error: 'PROPERTY_DOESNT_EXIST', message: `Property "${name}" does not exist` });
        continue;
      }
      const value = coerce(raw);
      if (value === undefined) {
        issues.push({ name, error: 'INVALID_VALUE', message: `${JSON.stringify(raw)} is not a valid value for property "${name}"` });
        continue;
      }
      const issue = value === '' ? undefined : checkValue(name, value);
      if (issue) issues.push(issue);
      else values[name] = value;
    }
    return issues.length > 0 ? issues : values;
  }
}

function coerce(raw: unknown): string | undefined {
  if (raw === null) return '';
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number') return Number.isFinite(raw) ? String(raw) : undefined;
  if (typeof raw === 'boolean') return String(raw);
  return undefined;
}

function checkValue(name: string, value: string): PropertyIssue | undefined {
  switch (name) {
    case 'email':
      return EMAIL.test(value) ? undefined : { name, error: 'INVALID_EMAIL', message: `Email address ${value} is invalid` };
    case 'numberofemployees':
      return /^-?\d+$/.test(value) ? undefined : { name, error: 'INVALID_INTEGER', message: `${value} was not a valid long.` };
    case 'annualrevenue':
      return value.trim() !== '' && Number.isFinite(Number(value))
        ? undefined
        : { name, error: 'INVALID_DOUBLE', message: `${value} was not a valid number.` };
    case 'lifecyclestage':
      return LIFECYCLE_STAGES.includes(value)
        ? undefined
        : { name, error: 'INVALID_OPTION', message: `${value} was not one of the allowed options: [${LIFECYCLE_STAGES.join(', ')}]` };
    default:
      return undefined;
  }
}

/** HubSpot embeds the per-property verdicts as a JSON array inside the message, and repeats them in `errors[]`. */
export function validationMessage(issues: PropertyIssue[]): string {
  const verdicts = issues.map((i) => ({
    isValid: false,
    message: i.message,
    error: i.error,
    name: i.name,
    localizedErrorMessage: i.message,
  }));
  return `Property values were not valid: ${JSON.stringify(verdicts)}`;
}

export function validationDetails(issues: PropertyIssue[]): { message: string; code: string; context: Record<string, string[]> }[] {
  return issues.map((i) => ({ message: i.message, code: i.error, context: { propertyName: [i.name] } }));
}

export function validationError(issues: PropertyIssue[]): ApiError {
  return new ApiError(400, 'VALIDATION_ERROR', validationMessage(issues), { errors: validationDetails(issues) });
}
