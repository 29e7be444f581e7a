import { CODES, DvError, payloadError } from './errors.ts';

/** Writable string attributes of contact and their maximum lengths. */
const CONTACT_ATTRIBUTES: Record<string, number> = {
  firstname: 50,
  middlename: 50,
  lastname: 50,
  emailaddress1: 100,
  emailaddress2: 100,
  telephone1: 50,
  mobilephone: 50,
  jobtitle: 100,
  department: 100,
  address1_line1: 250,
  address1_city: 80,
  address1_stateorprovince: 50,
  address1_postalcode: 20,
  address1_country: 80,
  websiteurl: 200,
  description: 2000,
  new_externalid: 100,
};

/** System attributes: readable, and silently left alone when a body sets them. `contactid` is the key, see below. */
export const SYSTEM_ATTRIBUTES = ['createdon', 'modifiedon', 'versionnumber', 'statecode', 'statuscode', 'fullname'] as const;

export const PRIMARY_KEY = 'contactid';

export interface AttributeChanges {
  set: Record<string, string>;
  clear: string[];
  /** The body's `contactid`, if it had one. */
  primaryKey?: string;
}

export class AttributeCatalog {
  readonly #lengths: Record<string, number>;

  constructor(extra: string[] = []) {
    this.#lengths = { ...CONTACT_ATTRIBUTES };
    for (const name of extra) this.#lengths[name.toLowerCase()] = 4000;
  }

  names(): string[] {
    return Object.keys(this.#lengths);
  }

  has(name: string): boolean {
    return this.#lengths[name] !== undefined;
  }

  readable(): string[] {
    return [PRIMARY_KEY, ...this.names(), ...SYSTEM_ATTRIBUTES];
  }

  /** Checks a write body; unknown attributes, non-string values and values over length are rejected. */
  parse(body: Record<string, unknown>): AttributeChanges {
    const changes: AttributeChanges = { set: {}, clear: [] };
    for (const [name, value] of Object.entries(body)) {
      // Annotations (@odata.type, lookups' @odata.bind) are not modelled and are ignored.
      if (name.includes('@')) continue;
      if (name === PRIMARY_KEY) {
        if (typeof value !== 'string') throw payloadError('contacts', `Cannot convert the literal '${String(value)}' to the expected type 'Edm.Guid'.`);
        changes.primaryKey = value;
        continue;
      }
      if ((SYSTEM_ATTRIBUTES as readonly string[]).includes(name)) continue;
      const length = this.#lengths[name];
      if (length === undefined) {
        throw new DvError(400, CODES.badRequest, `The property '${name}' does not exist on type 'Microsoft.Dynamics.CRM.contact'. Make sure to only use property names that are defined by the type.`);
      }
      if (value === null || value === '') {
        changes.clear.push(name);
        continue;
      }
      if (typeof value !== 'string') throw payloadError('contacts', `Cannot convert the literal '${JSON.stringify(value)}' to the expected type 'Edm.String'.`);
      if (value.length > length) {
        throw new DvError(400, CODES.tooLong, `A validation error occurred. The length of the '${name}' attribute of the 'contact' entity exceeded the maximum allowed length of '${length}'.`);
      }
      changes.set[name] = value;
    }
    return changes;
  }
}
