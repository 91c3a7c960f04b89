/**
 * CSV as RFC 4180 writes it (CRLF line ends, quoting only where needed), because the readers a
 * lead opens a study's tables in — spreadsheets, R, pandas — all agree on that dialect.
 */

export type CsvValue = string | number | boolean | null | undefined;

const NEEDS_QUOTES = /[",\r\n]/;

function field(value: CsvValue): string {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Header and rows, each record ended by CRLF (the RFC allows the last one to be, and `cat`-ing files then stays valid). */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
  let out = header.map(field).join(",") + "\r\n";
  for (const row of rows) out += row.map(field).join(",") + "\r\n";
  return out;
}

/**
 * Records of an RFC 4180 text; also takes bare LF line ends. A line break after the last record
 * does not start another one. Throws on a quote left open, which means the text was cut short.
 */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let value = "";
  let quoted = false;
  let i = 0;
  const endRecord = () => {
    record.push(value);
    records.push(record);
    record = [];
    value = "";
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (value += '"'), (i += 2);
      else if (c === '"') (quoted = false), i++;
      else (value += c), i++;
    } else if (c === '"' && value === "") (quoted = true), i++;
    else if (c === ",") record.push(value), (value = ""), i++;
    else if (c === "\r" && text[i + 1] === "\n") endRecord(), (i += 2);
    else if (c === "\n") endRecord(), i++;
    else (value += c), i++;
  }
  if (quoted) throw new RangeError("CSV ends inside a quoted field");
  if (value !== "" || record.length > 0) endRecord();
  return records;
}
