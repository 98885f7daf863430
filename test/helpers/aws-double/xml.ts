/** A tiny XML writer for the Query-protocol answers of the AWS double. */
export type XmlValue = string | number | boolean | undefined | XmlValue[] | { [k: string]: XmlValue };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Arrays become repeated <member> (ELB/ELBv2) or <item> (EC2) elements. */
export function toXml(name: string, value: XmlValue, listTag: 'member' | 'item'): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return `<${name}>${value.map((v) => toXml(listTag, v, listTag)).join('')}</${name}>`;
  if (typeof value === 'object') {
    return `<${name}>${Object.entries(value).map(([k, v]) => toXml(k, v, listTag)).join('')}</${name}>`;
  }
  return `<${name}>${esc(String(value))}</${name}>`;
}

/** Parses a form-urlencoded Query body into a flat map (Foo.member.1=...). */
export function parseQuery(body: string): Map<string, string> {
  return new Map(new URLSearchParams(body).entries());
}

/** Values of a Query list parameter: prefix.member.1, prefix.member.2, ... (or prefix.1 for EC2). */
export function queryList(q: Map<string, string>, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; ; i++) {
    const v = q.get(`${prefix}.member.${i}`) ?? q.get(`${prefix}.${i}`);
    if (v === undefined) return out;
    out.push(v);
  }
}
