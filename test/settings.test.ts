import test from 'ava';
import { DEFAULT_SETTINGS, resolveSettings } from '../src/settings.js';
import { UsageError } from '../src/errors.js';

test('resolveSettings applies overrides to the defaults and skips undefined values', (t) => {
  t.deepEqual(resolveSettings(), DEFAULT_SETTINGS);
  const s = resolveSettings({ port: 0, host: '127.0.0.1', requestTimeoutMs: 5_000, uploadLimitBytesPerS: 0, blockBytes: undefined });
  t.is(s.port, 0);
  t.is(s.host, '127.0.0.1');
  t.is(s.requestTimeoutMs, 5_000);
  t.is(s.blockBytes, DEFAULT_SETTINGS.blockBytes);
});

test('the peer tunables have their defaults and units', (t) => {
  t.is(DEFAULT_SETTINGS.sendBufferBytesPerPeer, 1024 * 1024);
  t.is(DEFAULT_SETTINGS.maxLateRequestsPerPeer, 8192);
  t.is(DEFAULT_SETTINGS.maxFastSetPiecesPerPeer, 64);
});

test('resolveSettings refuses a bad value with an error naming the key', (t) => {
  const bad = (overrides: Record<string, unknown>, message: RegExp): void => {
    const err = t.throws(() => resolveSettings(overrides as never), { instanceOf: UsageError, message });
    t.is(err?.code, 'EUSAGE');
  };
  bad({ blockBytes: -1 }, /^invalid setting blockBytes: must be greater than 0, got -1$/);
  bad({ blockBytes: 0 }, /blockBytes: must be greater than 0/);
  bad({ maxPeersPerTorrent: 2.5 }, /maxPeersPerTorrent: must be an integer, got 2\.5/);
  bad({ requestTimeoutMs: '30s' }, /requestTimeoutMs: must be a number, got "30s"/);
  bad({ idleTimeoutMs: Number.NaN }, /idleTimeoutMs: must be a finite number/);
  bad({ uploadLimitBytesPerS: -5 }, /uploadLimitBytesPerS: must not be negative/);
  bad({ keepAliveIntervalMs: 0 }, /keepAliveIntervalMs: must be greater than 0/);
  bad({ port: 70_000 }, /port: must be a port number/);
  bad({ dhtEnforceNodeId: 'yes' }, /dhtEnforceNodeId: must be a boolean/);
  bad({ requestTimoutMs: 1 }, /^unknown setting requestTimoutMs$/);
  bad({ initialQueueDepth: 600 }, /initialQueueDepth \(600\) is larger than maxQueueDepth \(512\)/);
  bad({ sendBufferBytesPerPeer: 8 * 1024 * 1024 }, /sendBufferBytesPerPeer \(8388608\) must be less than maxUnsentBytesPerPeer/);
});
