/**
 * `--format` for `network inspect` and `network ls`: the part of Go's text/template that Docker
 * users' scripts use, over the JSON the daemon answers. Actions between `{{` and `}}`:
 *   .            the current value          .IPAM.Config   a field path (exact name, else the one
 *   json PATH    the value as JSON                          name differing only in case)
 *   join PATH "SEP"   a list's items joined  index PATH "KEY"|N   one entry of a map or list
 *   range PATH … end  each item as `.`      if PATH … [else …] end   non-empty / true / non-zero
 *   println PATH      the value and a newline (Docker's `{{println .Name}}`)
 * `{{-` and `-}}` trim the spaces next to them, as in Go. Values print as Go prints them: lists as
 * `[a b]`, maps as `map[k:v]` in key order, null as `<nil>`. An unknown field is an error that names
 * it and the fields there are, rather than Go's silent `<no value>`.
 */
import { TsnError } from '../errors.js';

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'print'; fn: string; args: Arg[] }
  | { kind: 'range'; arg: Arg; body: Node[] }
  | { kind: 'if'; arg: Arg; then: Node[]; else: Node[] };
type Arg = { kind: 'path'; path: string[] } | { kind: 'literal'; value: string | number };

const bad = (template: string, why: string) => new TsnError('ERR_BAD_FORMAT', `--format ${JSON.stringify(template)}: ${why}`);

/** Renders `template` over `data` (one JSON value). */
export function renderTemplate(template: string, data: unknown): string {
  const nodes = parse(template);
  return run(nodes, data, template);
}

function tokenize(template: string): (string | { action: string })[] {
  const out: (string | { action: string })[] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{{', i);
    if (open < 0) {
      out.push(template.slice(i));
      break;
    }
    let text = template.slice(i, open);
    const close = template.indexOf('}}', open + 2);
    if (close < 0) throw bad(template, `an action opened at offset ${open} is not closed with }}`);
    let action = template.slice(open + 2, close);
    if (action.startsWith('-')) {
      text = text.trimEnd();
      action = action.slice(1);
    }
    let next = close + 2;
    if (action.endsWith('-')) {
      action = action.slice(0, -1);
      while (next < template.length && /\s/.test(template[next])) next++;
    }
    if (text) out.push(text);
    out.push({ action: action.trim() });
    i = next;
  }
  return out;
}

function parseArg(word: string, template: string): Arg {
  if (word === '.') return { kind: 'path', path: [] };
  if (word.startsWith('.')) return { kind: 'path', path: word.slice(1).split('.') };
  if (/^"(?:[^"\\]|\\.)*"$/.test(word)) return { kind: 'literal', value: JSON.parse(word) as string };
  if (/^-?\d+$/.test(word)) return { kind: 'literal', value: Number(word) };
  throw bad(template, `${JSON.stringify(word)} is not a field path (.Name, .IPAM.Config), a "string" or a number`);
}

function words(action: string): string[] {
  return action.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
}

const FUNCTIONS: Record<string, number> = { json: 1, join: 2, index: 2, println: 1 };

function parse(template: string): Node[] {
  const tokens = tokenize(template);
  let pos = 0;
  const block = (inside: string | null): { nodes: Node[]; end: 'end' | 'else' | null } => {
    const nodes: Node[] = [];
    while (pos < tokens.length) {
      const t = tokens[pos++];
      if (typeof t === 'string') {
        nodes.push({ kind: 'text', text: t });
        continue;
      }
      const w = words(t.action);
      if (w.length === 0) throw bad(template, 'an empty action {{}}');
      const [head, ...rest] = w;
      if (head === 'end' || head === 'else') {
        if (!inside) throw bad(template, `{{${head}}} without a {{range}} or {{if}}`);
        if (head === 'else' && inside !== 'if') throw bad(template, '{{else}} is supported inside {{if}} only');
        return { nodes, end: head };
      }
      if (head === 'range' || head === 'if') {
        if (rest.length !== 1) throw bad(template, `{{${head}}} takes one field path, got ${JSON.stringify(t.action)}`);
        const arg = parseArg(rest[0], template);
        const body = block(head);
        if (!body.end) throw bad(template, `{{${head} ${rest[0]}}} is not closed with {{end}}`);
        if (head === 'range') nodes.push({ kind: 'range', arg, body: body.nodes });
        else {
          const otherwise = body.end === 'else' ? block('if') : { nodes: [], end: 'end' as const };
          if (!otherwise.end) throw bad(template, `{{if ${rest[0]}}} is not closed with {{end}}`);
          nodes.push({ kind: 'if', arg, then: body.nodes, else: otherwise.nodes });
        }
        continue;
      }
      if (head in FUNCTIONS) {
        if (rest.length !== FUNCTIONS[head]) throw bad(template, `${head} takes ${FUNCTIONS[head]} argument(s), got ${JSON.stringify(t.action)}`);
        nodes.push({ kind: 'print', fn: head, args: rest.map((a) => parseArg(a, template)) });
        continue;
      }
      if (w.length !== 1) throw bad(template, `unknown function ${JSON.stringify(head)}: expected json, join, index, println, range, if, or a field path`);
      nodes.push({ kind: 'print', fn: 'value', args: [parseArg(head, template)] });
    }
    return { nodes, end: null };
  };
  const top = block(null);
  return top.nodes;
}

function lookup(data: unknown, arg: Arg, template: string): unknown {
  if (arg.kind === 'literal') return arg.value;
  let v = data;
  for (const [i, key] of arg.path.entries()) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw bad(template, `.${arg.path.slice(0, i).join('.')} is ${goString(v)}, which has no field ${key}`);
    }
    const o = v as Record<string, unknown>;
    const name = key in o ? key : Object.keys(o).find((k) => k.toLowerCase() === key.toLowerCase());
    if (name === undefined) throw bad(template, `no field ${key} in .${arg.path.slice(0, i).join('.')} (fields: ${Object.keys(o).join(', ') || 'none'})`);
    v = o[name];
  }
  return v;
}

/** A value printed the way Go's fmt prints the equivalent Go value. */
export function goString(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `map[${Object.keys(o).sort().map((k) => `${k}:${goString(o[k])}`).join(' ')}]`;
  }
  return String(v);
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

function run(nodes: Node[], data: unknown, template: string): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'range') {
      const v = lookup(data, n.arg, template);
      const items = Array.isArray(v) ? v : v !== null && typeof v === 'object' ? Object.keys(v).sort().map((k) => (v as Record<string, unknown>)[k]) : null;
      if (items === null && v !== null && v !== undefined) throw bad(template, `range over ${goString(v)}: expected a list or a map`);
      for (const item of items ?? []) out += run(n.body, item, template);
    } else if (n.kind === 'if') out += run(truthy(lookup(data, n.arg, template)) ? n.then : n.else, data, template);
    else {
      const [a, b] = n.args.map((x) => lookup(data, x, template));
      if (n.fn === 'value') out += goString(a);
      else if (n.fn === 'println') out += `${goString(a)}\n`;
      else if (n.fn === 'json') out += JSON.stringify(a);
      else if (n.fn === 'join') {
        if (!Array.isArray(a)) throw bad(template, `join: ${goString(a)} is not a list`);
        out += a.map(goString).join(String(b));
      } else {
        const key = String(b);
        const entry = Array.isArray(a) ? a[Number(b)] : a !== null && typeof a === 'object' ? (a as Record<string, unknown>)[key] : undefined;
        if (entry === undefined) throw bad(template, `index: no entry ${JSON.stringify(b)} in ${goString(a)}`);
        out += goString(entry);
      }
    }
  }
  return out;
}
