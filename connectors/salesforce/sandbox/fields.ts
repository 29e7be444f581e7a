import { SfError, type SfErrorEntry } from './errors.ts';
import type { FieldValue, SObjectType } from './types.ts';

export type FieldKind = 'string' | 'email' | 'int' | 'double' | 'textarea';

export interface FieldDef {
  kind: FieldKind;
  /** For text kinds. */
  length?: number;
  label: string;
  required?: boolean;
  /** A unique, case-insensitive external id (usable in upsert and read by external id). */
  externalId?: boolean;
}

export const EXTERNAL_ID_FIELD = 'Ext_Id__c';

const text = (label: string, length: number, extra: Partial<FieldDef> = {}): FieldDef => ({ kind: 'string', label, length, ...extra });

const FIELDS: Record<SObjectType, Record<string, FieldDef>> = {
  Contact: {
    FirstName: text('First Name', 40),
    LastName: text('Last Name', 80, { required: true }),
    Email: { kind: 'email', label: 'Email', length: 80 },
    Phone: text('Business Phone', 40),
    MobilePhone: text('Mobile Phone', 40),
    Title: text('Title', 128),
    Department: text('Department', 80),
    LeadSource: text('Lead Source', 255),
    MailingStreet: { kind: 'textarea', label: 'Mailing Street', length: 255 },
    MailingCity: text('Mailing City', 40),
    MailingState: text('Mailing State/Province', 80),
    MailingPostalCode: text('Mailing Zip/Postal Code', 20),
    MailingCountry: text('Mailing Country', 80),
    Description: { kind: 'textarea', label: 'Contact Description', length: 32_000 },
    [EXTERNAL_ID_FIELD]: text('Ext Id', 255, { externalId: true }),
  },
  Account: {
    Name: text('Account Name', 255, { required: true }),
    Website: text('Website', 255),
    Industry: text('Industry', 255),
    Phone: text('Account Phone', 40),
    NumberOfEmployees: { kind: 'int', label: 'Employees' },
    AnnualRevenue: { kind: 'double', label: 'Annual Revenue' },
    Description: { kind: 'textarea', label: 'Account Description', length: 32_000 },
    BillingStreet: { kind: 'textarea', label: 'Billing Street', length: 255 },
    BillingCity: text('Billing City', 40),
    BillingState: text('Billing State/Province', 80),
    BillingPostalCode: text('Billing Zip/Postal Code', 20),
    BillingCountry: text('Billing Country', 80),
    [EXTERNAL_ID_FIELD]: text('Ext Id', 255, { externalId: true }),
  },
};

/** Fields every record has and no request may write. Contact.Name is compound: First Name + Last Name. */
export const SYSTEM_FIELDS = ['Id', 'IsDeleted', 'CreatedDate', 'LastModifiedDate', 'SystemModstamp'] as const;
const READ_ONLY: Record<SObjectType, readonly string[]> = { Contact: [...SYSTEM_FIELDS, 'Name'], Account: SYSTEM_FIELDS };

/** What a write asks for: values to set, and fields to clear (null or ""). */
export interface FieldChanges {
  set: Record<string, FieldValue>;
  clear: string[];
}

export class FieldCatalog {
  readonly #fields: Record<SObjectType, Record<string, FieldDef>>;

  constructor(extra: Partial<Record<SObjectType, string[]>> = {}) {
    this.#fields = { Contact: { ...FIELDS.Contact }, Account: { ...FIELDS.Account } };
    for (const [type, names] of Object.entries(extra) as Array<[SObjectType, string[] | undefined]>) {
      const fields = this.#fields[type] as Record<string, FieldDef> | undefined;
      if (fields === undefined) throw new TypeError(`extraFields: unknown sObject type ${type}`);
      for (const name of names ?? []) fields[name] = text(name, 255);
    }
  }

  /** Writable field names, in catalog order. */
  names(type: SObjectType): string[] {
    return Object.keys(this.#fields[type]);
  }

  def(type: SObjectType, name: string): FieldDef | undefined {
    return this.#fields[type][name];
  }

  isExternalId(type: SObjectType, name: string): boolean {
    return this.#fields[type][name]?.externalId === true;
  }

  required(type: SObjectType): string[] {
    return Object.entries(this.#fields[type]).filter(([, d]) => d.required === true).map(([n]) => n);
  }

  /** Every readable field name: system fields, the compound Name of contacts, and the writable ones. */
  readable(type: SObjectType): string[] {
    return [...READ_ONLY[type], ...this.names(type)];
  }

  /**
   * Checks a write body and turns it into changes. `forbidden` names fields the operation refuses (Id, the external id
   * of an upsert) with their message. Every problem found is reported, as one error array.
   */
  parse(type: SObjectType, body: Record<string, unknown>, forbidden: Record<string, string> = {}): FieldChanges {
    const errors: SfErrorEntry[] = [];
    const changes: FieldChanges = { set: {}, clear: [] };
    for (const [name, value] of Object.entries(body)) {
      if (name === 'attributes') continue;
      const refusal = forbidden[name];
      if (refusal !== undefined) {
        errors.push({ message: refusal, errorCode: 'INVALID_FIELD', fields: [name] });
        continue;
      }
      if (READ_ONLY[type].includes(name)) {
        errors.push({
          message: `Unable to create/update fields: ${name}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
          errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
          fields: [name],
        });
        continue;
      }
      const def = this.#fields[type][name];
      if (def === undefined) {
        errors.push({ message: `No such column '${name}' on sobject of type ${type}`, errorCode: 'INVALID_FIELD', fields: [] });
        continue;
      }
      if (value === null || value === '') {
        changes.clear.push(name);
        continue;
      }
      const checked = checkValue(name, def, value);
      if ('error' in checked) errors.push(checked.error);
      else changes.set[name] = checked.value;
    }
    if (errors.length > 0) throw new SfError(400, errors);
    return changes;
  }
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function checkValue(name: string, def: FieldDef, value: unknown): { value: FieldValue } | { error: SfErrorEntry } {
  const parserError = (type: string): { error: SfErrorEntry } => ({
    error: { message: `Cannot deserialize instance of ${type} from ${describeJson(value)} value ${JSON.stringify(value)} or request may be missing a required field`, errorCode: 'JSON_PARSER_ERROR', fields: [] },
  });
  switch (def.kind) {
    case 'int': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) return parserError('int');
      return { value: n };
    }
    case 'double': {
      const n = typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n)) return parserError('double');
      return { value: n };
    }
    default: {
      // Salesforce takes JSON numbers and booleans for text fields in their text form.
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return parserError('string');
      const s = String(value);
      if (def.length !== undefined && s.length > def.length) {
        return { error: { message: `${def.label}: data value too large: ${s.slice(0, 100)} (max length=${def.length})`, errorCode: 'STRING_TOO_LONG', fields: [name] } };
      }
      if (def.kind === 'email' && !EMAIL.test(s)) {
        return { error: { message: `${def.label}: invalid email address: ${s}`, errorCode: 'INVALID_EMAIL_ADDRESS', fields: [name] } };
      }
      return { value: s };
    }
  }
}

function describeJson(value: unknown): string {
  if (Array.isArray(value)) return 'START_ARRAY';
  if (typeof value === 'object') return 'START_OBJECT';
  if (typeof value === 'string') return 'VALUE_STRING';
  if (typeof value === 'boolean') return value ? 'VALUE_TRUE' : 'VALUE_FALSE';
  return Number.isInteger(value) ? 'VALUE_NUMBER_INT' : 'VALUE_NUMBER_FLOAT';
}
