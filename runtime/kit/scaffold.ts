export async function scaffoldConnector(name: string, parent: string): Promise<{ dir: string; files: string[] }> {
  throw new TypeError(`not yet ${name} ${parent}`);
}
