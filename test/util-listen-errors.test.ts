import test from 'ava';
import net from 'node:net';
import { UsageError } from '../src/errors.js';
import { isAddressInUse, listenError } from '../src/util/listen-errors.js';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`listen ${code}`), { code });

test('a port in use is a UsageError (exit 2) saying what and how to fix it', (t) => {
  const cause = errno('EADDRINUSE');
  const e = listenError(cause, { what: 'tracker port 6969', fix: 'choose another with --tracker PORT' });
  t.true(e instanceof UsageError);
  t.is((e as UsageError).exitCode, 2);
  t.is((e as Error).message, 'tracker port 6969 is in use: choose another with --tracker PORT');
  t.is((e as Error).cause, cause);
});

test('a host not of this machine is a UsageError only when the host words are given', (t) => {
  const cause = errno('EADDRNOTAVAIL');
  t.is((listenError(cause, { what: 'x', fix: 'y', host: '--host 10.9.9.9' }) as Error).message, '--host 10.9.9.9 is not an address of this machine: give one of its own (or leave --host out to use every address)');
  t.is(listenError(cause, { what: 'x', fix: 'y' }), cause);
});

test('a host name that resolves to nothing is a UsageError naming it, when the host words are given', (t) => {
  const cause = Object.assign(new Error('getaddrinfo ENOTFOUND localhostt'), { code: 'ENOTFOUND', hostname: 'localhostt' });
  const e = listenError(cause, { what: 'x', fix: 'y', host: '--host localhostt' });
  t.true(e instanceof UsageError);
  t.regex((e as Error).message, /^--host localhostt: unknown host .*127\.0\.0\.1/);
  t.is(listenError(cause, { what: 'x', fix: 'y' }), cause);
});

test('a wrapped bind failure that kept only the system text is still a port in use', (t) => {
  const wrapped = new Error('tracker: cannot bind UDP 127.0.0.9:6969: bind EADDRINUSE 127.0.0.9:6969');
  t.true(isAddressInUse(wrapped));
  t.true(isAddressInUse(new Error('outer', { cause: errno('EADDRINUSE') })));
});

test('anything else is passed on unchanged', (t) => {
  const other = errno('EACCES');
  t.is(listenError(other, { what: 'x', fix: 'y', host: 'h' }), other);
  t.is(listenError('not an error', { what: 'x', fix: 'y' }), 'not an error');
  t.false(isAddressInUse(undefined));
});

test('isAddressInUse recognises a real bind failure', async (t) => {
  const a = net.createServer();
  await new Promise<void>((r) => a.listen(0, '127.0.0.1', r));
  t.teardown(() => a.close());
  const port = (a.address() as net.AddressInfo).port;
  const b = net.createServer();
  const err = await new Promise<unknown>((r) => {
    b.once('error', r);
    b.listen(port, '127.0.0.1');
  });
  t.true(isAddressInUse(err));
});
