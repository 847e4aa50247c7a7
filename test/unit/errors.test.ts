import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as errors from '../../src/errors.js';
import { UsageError as CommandsUsageError } from '../../src/commands.js';
import { ConfigError as ConfigConfigError } from '../../src/config.js';
import { ConfigFileError as FileConfigFileError } from '../../src/config-file.js';
import { ProcessError as ProcessProcessError } from '../../src/process.js';
import { KeyError } from '../../src/identity/keys.js';
import { QueryError } from '../../src/identity/query.js';
import { AddressError } from '../../src/net/peerfile.js';
import { ZoneError } from '../../src/pkarr/zone.js';
import { BobKeyError } from '../../src/identity/bob.js';

test('the type is the recovery decision', () => {
  const fileError = new errors.ConfigFileError('/etc/kadnode.conf', 3, 'Unknown option');
  assert.equal(fileError.message, '/etc/kadnode.conf:3: Unknown option');
  assert.equal(new errors.ConfigFileError('/etc/kadnode.conf', undefined, 'too large').message, '/etc/kadnode.conf: too large');
  // a bad option is the operator's input: printed as one line, and a command would answer `usage`
  for (const cls of [errors.ConfigError, errors.UsageError]) assert.ok(fileError instanceof cls);
  assert.ok(new errors.ProcessError('x') instanceof errors.OperatorError);
  assert.ok(!(new errors.ProcessError('x') instanceof errors.UsageError), 'a pid file in use is not a usage mistake');
  // value errors name no option: the option's parser wraps them, nothing prints them as they are
  for (const cls of [errors.KeyError, errors.BobKeyError, errors.QueryError, errors.AddressError, errors.ZoneError]) assert.ok(!(new cls('x') instanceof errors.OperatorError), cls.name);
});

test('one class each, whichever module an importer reads it from', () => {
  assert.equal(CommandsUsageError, errors.UsageError);
  assert.equal(ConfigConfigError, errors.ConfigError);
  assert.equal(FileConfigFileError, errors.ConfigFileError);
  assert.equal(ProcessProcessError, errors.ProcessError);
  assert.equal(KeyError, errors.KeyError);
  assert.equal(QueryError, errors.QueryError);
  assert.equal(AddressError, errors.AddressError);
  assert.equal(ZoneError, errors.ZoneError);
  assert.equal(BobKeyError, errors.BobKeyError);
});
