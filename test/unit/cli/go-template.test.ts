import { describe, expect, it } from 'vitest';
import { goString, renderTemplate } from '../../../src/cli/go-template.js';
import { expectTsnError } from '../../helpers/tsn-error.js';

const net = {
  Name: 'front',
  Id: 'abc123',
  IPAM: { Driver: 'default', Config: [{ Subnet: '10.91.0.0/24', Gateway: '10.91.0.1' }] },
  Internal: false,
  Endpoints: { e2: { Interface: 'eth0', IPv4Address: '10.91.0.3/24' }, e1: { Interface: 'eth1', IPv4Address: '10.91.0.2/24' } },
  Options: {},
};

describe('renderTemplate (--format)', () => {
  it('prints field paths the way Go prints them', () => {
    expect(renderTemplate('{{.Name}}', net)).toBe('front');
    expect(renderTemplate('{{.IPAM.Config}}', net)).toBe('[map[Gateway:10.91.0.1 Subnet:10.91.0.0/24]]');
    expect(renderTemplate('{{.Internal}} {{.Options}}', net)).toBe('false map[]');
    expect(renderTemplate('id={{ .Id }}!', net)).toBe('id=abc123!');
  });

  it('json, index, join, println', () => {
    expect(JSON.parse(renderTemplate('{{json .}}', net))).toEqual(net);
    expect(renderTemplate('{{json .IPAM.Config}}', net)).toBe('[{"Subnet":"10.91.0.0/24","Gateway":"10.91.0.1"}]');
    expect(renderTemplate('{{index .IPAM.Config 0}}', net)).toBe('map[Gateway:10.91.0.1 Subnet:10.91.0.0/24]');
    expect(renderTemplate('{{index .Endpoints "e1"}}', net)).toBe('map[IPv4Address:10.91.0.2/24 Interface:eth1]');
    expect(renderTemplate('{{join .Tags ","}}', { Tags: ['a', 'b'] })).toBe('a,b');
    expect(renderTemplate('{{println .Name}}', net)).toBe('front\n');
  });

  it('range over a list and over a map (in key order), with trim markers', () => {
    expect(renderTemplate('{{range .IPAM.Config}}{{.Subnet}} via {{.Gateway}}{{end}}', net)).toBe('10.91.0.0/24 via 10.91.0.1');
    expect(renderTemplate('{{range .Endpoints -}} {{.Interface}}={{.IPv4Address}};  {{- end}}', net)).toBe('eth1=10.91.0.2/24;eth0=10.91.0.3/24;');
  });

  it('if / else on empty and non-empty values', () => {
    expect(renderTemplate('{{if .Internal}}internal{{else}}routed{{end}}', net)).toBe('routed');
    expect(renderTemplate('{{if .Endpoints}}busy{{end}}', net)).toBe('busy');
    expect(renderTemplate('{{if .Options}}x{{else}}none{{end}}', net)).toBe('none');
  });

  it('field names match exactly first, then regardless of case (ls rows are ID/Name/Driver)', () => {
    expect(renderTemplate('{{.name}}', net)).toBe('front');
    expect(renderTemplate('{{.A}}/{{.a}}', { A: 1, a: 2 })).toBe('1/2');
  });

  it('bad templates are errors that name the problem', () => {
    expectTsnError(() => renderTemplate('{{.Nope}}', net), 'ERR_BAD_FORMAT', 'no field Nope in . (fields: Name, Id, IPAM');
    expectTsnError(() => renderTemplate('{{.Name.First}}', net), 'ERR_BAD_FORMAT', '.Name is front, which has no field First');
    expectTsnError(() => renderTemplate('{{.Name', net), 'ERR_BAD_FORMAT', 'not closed with }}');
    expectTsnError(() => renderTemplate('{{range .Endpoints}}x', net), 'ERR_BAD_FORMAT', 'not closed with {{end}}');
    expectTsnError(() => renderTemplate('{{end}}', net), 'ERR_BAD_FORMAT', 'without a {{range}}');
    expectTsnError(() => renderTemplate('{{printf "%s" .Name}}', net), 'ERR_BAD_FORMAT', 'unknown function "printf"');
    expectTsnError(() => renderTemplate('{{index .IPAM.Config 3}}', net), 'ERR_BAD_FORMAT', 'no entry 3');
    expectTsnError(() => renderTemplate('{{range .Name}}x{{end}}', net), 'ERR_BAD_FORMAT', 'expected a list or a map');
  });

  it('goString: Go fmt forms', () => {
    expect(goString(null)).toBe('<nil>');
    expect(goString([1, 'a', [true]])).toBe('[1 a [true]]');
    expect(goString({ b: 1, a: { c: null } })).toBe('map[a:map[c:<nil>] b:1]');
  });
});
