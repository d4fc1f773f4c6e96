// A throwaway PKI for the TLS tests, made with the `openssl` CLI in a temp dir: a CA, a server certificate
// for 127.0.0.1 (subjectAltName IP), a client certificate from the same CA, and a second CA with its own
// client certificate (which the server must refuse). EC P-256 keys: quick to make.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Pki {
  dir: string
  ca: string
  serverCert: string
  serverKey: string
  clientCert: string
  clientKey: string
  otherCa: string
  otherCert: string
  otherKey: string
  /** The files, for the CLI. */
  files: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string; otherCert: string; otherKey: string; otherCa: string }
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
}

function makeLeaf(dir: string, name: string, ca: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext)
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`])
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`])
}

export function makePki(dir: string): Pki {
  makeCa(dir, 'ca')
  makeCa(dir, 'other-ca')
  makeLeaf(dir, 'server', 'ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  makeLeaf(dir, 'client', 'ca', 'extendedKeyUsage=clientAuth\n')
  makeLeaf(dir, 'other', 'other-ca', 'extendedKeyUsage=clientAuth\n')
  const f = (n: string) => join(dir, n)
  const files = {
    ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key'),
    otherCa: f('other-ca.crt'), otherCert: f('other.crt'), otherKey: f('other.key'),
  }
  const r = (p: string) => readFileSync(p, 'utf8')
  return {
    dir, files,
    ca: r(files.ca), serverCert: r(files.serverCert), serverKey: r(files.serverKey), clientCert: r(files.clientCert), clientKey: r(files.clientKey),
    otherCa: r(files.otherCa), otherCert: r(files.otherCert), otherKey: r(files.otherKey),
  }
}
