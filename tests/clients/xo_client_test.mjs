// Xen Orchestra's `xen-api` npm client against fruix-xapi-sim, over both of its transports.
// Usage: node xo_client_test.mjs SIM_BINARY FIXTURE   (NODE_PATH must find `xen-api`)
// Covers: connect (login, pool/host records, system.listMethods), getAllRecords, callAsync
// (task followed through event.from), barrier() (events on pool.other_config), a VHD import via
// putResource, and disconnect — over XML-RPC and JSON-RPC, HTTP and HTTPS.
import { spawn, execFileSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync, readSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(join(process.env.FRUIX_XO_CLIENT_DIR ?? '.', 'noop.js'))
const { Xapi } = await import(require.resolve('xen-api'))

const [sim, fixture] = process.argv.slice(2)
const tmp = mkdtempSync(join(tmpdir(), 'fruix-xo-'))
const child = spawn(sim, ['--fixture', fixture, '--state-dir', tmp, '--http-port', '0',
  '--https-port', '0', '--admin-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
const killer = setTimeout(() => { child.kill('SIGKILL'); console.error('timeout'); process.exit(1) }, 120000)
const ready = JSON.parse(await new Promise((resolve, reject) => {
  createInterface({ input: child.stdout }).once('line', resolve)
  child.once('exit', code => reject(new Error('simulator exited ' + code)))
}))

let failures = 0
let passed = 0
async function check(name, fn) {
  try {
    await fn()
    passed++
    console.log('ok   ' + name)
  } catch (error) {
    failures++
    console.log('FAIL ' + name + ': ' + (error.stack ?? error))
  }
}

async function session(transport, tls) {
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${tls ? ready.https_port : ready.http_port}`
  const xapi = new Xapi({ url, transport, auth: { user: 'root', password: 'password' },
    allowUnauthorized: true, watchEvents: ['VM', 'task', 'pool'] })
  await xapi.connect()
  return xapi
}

const cases = [['xml-rpc', false, 'debian-hvm'], ['json-rpc', true, 'fruix-freebsd']]
for (const [transport, tls, vmName] of cases) {
  await check(`${transport} ${tls ? 'https' : 'http'}: connect, records, callAsync, barrier`, async () => {
    const xapi = await session(transport, tls)
    try {
      assert.equal(xapi.status, 'connected')
      assert.equal(xapi.pool.name_label, 'sim-pool')
      const vms = await xapi.getAllRecords('VM')
      const vm = vms.find(v => v.name_label === vmName)
      assert.ok(vm, vmName)
      assert.equal(vm.power_state, 'Halted')
      assert.equal(await xapi.callAsync('VM.start', vm.$ref, false, false), '')
      assert.equal(await xapi.call('VM.get_power_state', vm.$ref), 'Running')
      await assert.rejects(xapi.callAsync('VM.start', vm.$ref, false, false),
        e => e.code === 'VM_BAD_POWER_STATE' && e.params[2] === 'running')
      await xapi.call('pool.add_to_other_config', xapi.pool.$ref, 'fruix-' + transport, 'x')
      await xapi.barrier(xapi.pool.$ref)
      assert.equal(xapi.pool.other_config['fruix-' + transport], 'x')
      await xapi.call('VM.hard_shutdown', vm.$ref)
    } finally {
      await xapi.disconnect()
    }
  })
}

await check('putResource: dynamic VHD import into an existing VDI', async () => {
  const raw = join(tmp, 'disk.raw')
  const vhd = join(tmp, 'disk.vhd')
  const data = Buffer.alloc(8 << 20)
  for (let i = 0; i < 4096; i++) data[(3 << 20) + i] = (i * 7 + 1) & 0xff
  writeFileSync(raw, data)
  execFileSync('qemu-img', ['convert', '-O', 'vpc', '-o', 'subformat=dynamic,force_size=on', raw, vhd])
  const xapi = await session('xml-rpc', false)
  try {
    const uuid = '3a5b7c9d-2e4f-4a6b-8c0d-1e2f3a4b5c02'
    const vdi = await xapi.call('VDI.get_by_uuid', uuid)
    const result = await xapi.putResource(readFileSync(vhd), '/import_raw_vdi/',
      { query: { format: 'vhd', vdi }, task: true })
    assert.equal(result, vdi)
    const fd = openSync(join(ready.state_dir, 'srs', 'nfs-shared', uuid + '.img'), 'r')
    const got = Buffer.alloc(data.length)
    readSync(fd, got, 0, got.length, 0)
    closeSync(fd)
    assert.ok(got.equals(data), 'backing file differs from the source')
  } finally {
    await xapi.disconnect()
  }
})

child.kill('SIGTERM')
await new Promise(resolve => child.once('exit', resolve))
clearTimeout(killer)
rmSync(tmp, { recursive: true, force: true })
console.log(`${passed} passed, ${failures} failed`)
process.exit(failures === 0 ? 0 : 1)
