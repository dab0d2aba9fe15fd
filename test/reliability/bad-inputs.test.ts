// The bad-input corpus, end to end through the bundle: every case fails with exit 1 and one message that
// names the input, before any request to the world's servers and before git runs at all (GIT_TRACE would
// leave a file), and leaves nothing under RUNNER_TEMP. (test/unit/inputs.test.ts holds the unit table.)
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { leakedSecrets } from '../harness/run-action.ts';
import { type Lab, pool, startLab, why } from './lab.ts';
import { record } from './record.ts';

interface Case {
  name: string;
  /** The input under test, as the message must name it. */
  input: string;
  inputs?: Record<string, string>;
  env?: Record<string, string>;
  event?: unknown;
  /** What the message must name, when not `input '<name>'`. */
  names?: RegExp;
}

const input = (name: string, value: string, label: string): Case => ({
  name: `${name}: ${label}`,
  input: name,
  inputs: { [name]: value },
});

const dispatch = (tag: unknown, label: string): Case => ({
  name: `workflow_dispatch inputs.tag: ${label}`,
  input: 'inputs.tag',
  env: { GITHUB_EVENT_NAME: 'workflow_dispatch', GITHUB_REF: 'refs/heads/main', GITHUB_REF_NAME: 'main' },
  event: { inputs: { tag } },
  names: /the workflow_dispatch input `tag`/,
});

const pushedTag = (ref: string, refName: string, label: string): Case => ({
  name: `pushed tag: ${label}`,
  input: 'GITHUB_REF_NAME',
  env: { GITHUB_REF: ref, GITHUB_REF_NAME: refName },
  names: /the pushed tag \(GITHUB_REF_NAME\)|not a tag, and no `tag` was given/,
});

const CASES: readonly Case[] = [
  // service: the repository and join token are derived from it.
  input('service', 'Sample_Service', 'uppercase and underscore'),
  input('service', 'svc; rm -rf /', 'shell command separator'),
  input('service', 'svc$(id)', 'command substitution'),
  input('service', 'svc`id`', 'backticks'),
  input('service', 'svc|tee x', 'pipe'),
  input('service', 'svc\nother', 'newline'),
  input('service', 'svc\r\nother', 'CRLF'),
  input('service', 'ѕvc', 'Cyrillic look-alike s'),
  input('service', 'svc\u200bx', 'zero-width space'),
  input('service', 'svc\tx', 'tab'),
  input('service', 'a'.repeat(65), '65 characters'),
  input('service', 'a'.repeat(100_000), '100 000 characters'),
  input('service', '../etc', 'path traversal'),
  input('service', '-svc', 'leading dash'),
  input('service', 'svc--x', 'double dash'),
  // images: ECR repository names, nothing else.
  input('images', 'UPPER_CASE', 'uppercase'),
  input('images', 'app:1.2.3', 'a tag in the name'),
  input('images', 'app@sha256:0000000000000000000000000000000000000000000000000000000000000000', 'a digest'),
  input('images', '515260921971.dkr.ecr.us-west-2.amazonaws.com/app', 'a full image URI'),
  input('images', 'a', 'one character'),
  input('images', 'app name', 'a space'),
  input('images', 'app;id', 'shell separator'),
  input('images', '../app', 'path traversal'),
  input('images', '/app', 'leading slash'),
  input('images', 'rеpo', 'Cyrillic look-alike e'),
  input('images', 'ok_app,\nbad app', 'one bad name among good ones'),
  input('images', 'x'.repeat(300), '300 characters'),
  // tag: strict X.Y.Z.
  input('tag', 'v1.2.3', 'leading v'),
  input('tag', '1.2.3-rc1', 'pre-release'),
  input('tag', '01.2.3', 'leading zero'),
  input('tag', '1.2', 'two parts'),
  input('tag', '1.2.3; rm -rf /', 'shell command'),
  input('tag', 'refs/tags/1.2.3', 'a ref'),
  input('tag', '1.2.3\n1.2.4', 'newline'),
  input('tag', '１.2.3', 'full-width digit'),
  input('tag', '1.2.3+build.5', 'build metadata'),
  // bake-path: relative, inside the tree.
  input('bake-path', '/etc', 'absolute path'),
  input('bake-path', '../outside', 'parent directory'),
  input('bake-path', 'kustomization/../../x', 'traversal through a subdirectory'),
  input('bake-path', 'C:\\kustomization', 'backslashes'),
  input('bake-path', './k\nx', 'newline'),
  input('bake-path', '', 'empty'),
  // Hosts, regions, ARNs.
  input('ecr-registry', 'https://515260921971.dkr.ecr.us-west-2.amazonaws.com', 'a scheme'),
  input('ecr-registry', 'registry.example/path', 'a path'),
  input('ecr-registry', 'registry.example:99999', 'port out of range'),
  input('ecr-registry', 'registry.example;id', 'shell separator'),
  input('ecr-registry', 'rеgistry.example', 'Cyrillic look-alike e'),
  input('aws-region', 'us-west-2; id', 'shell command'),
  input('aws-region', 'US-WEST-2', 'uppercase'),
  input('aws-role-arn', 'arn:aws:iam::123:role/x', 'short account id'),
  input('aws-role-arn', 'arn:aws:iam::515260921971:user/x', 'a user, not a role'),
  input('teleport-fqdn', 'https://teleport.example', 'a scheme'),
  input('teleport-fqdn', 'tele port.example', 'a space'),
  input('teleport-token', 'tok$(id)', 'command substitution'),
  input('teleport-workload-identity', '../image-push', 'path traversal'),
  // Versions go into download URLs.
  input('teleport-version', 'latest', 'not a version'),
  input('teleport-version', '17.0.0/../../x', 'path traversal'),
  input('teleport-version', '16.4.3', 'below the 17.2.7 floor'),
  input('flux-version', '2.9.4 && curl x | sh', 'shell command'),
  input('flux-version', 'v2.9.4', 'leading v'),
  input('cosign-version', '../../../etc', 'path traversal'),
  input('tool-mirror', 'http://mirror.example', 'plain http'),
  input('tool-mirror', 'https://user:secret@mirror.example', 'credentials in the URL'),
  input('tool-mirror', 'file:///etc', 'a file URL'),
  input('certificate-identity', 'a b', 'whitespace'),
  input('certificate-oidc-issuer', 'http://issuer.example', 'plain http'),
  // Flags and lists.
  input('sign', 'yes', 'not a boolean'),
  input('checkout', '1', 'not a boolean'),
  input('dry-run', 'maybe', 'not a boolean'),
  input('wait-for-images', '-1', 'negative'),
  input('wait-for-images', '3601', 'above the limit'),
  input('wait-for-images', '1e3', 'exponent notation'),
  input('forbidden-patterns', 'ok\n\u0001x', 'a control character'),
  input('chart-version-floors', 'commons-app=v18.1.1', 'a v in the floor'),
  input('chart-version-floors', 'commons-app', 'no floor'),
  input('crane-version', 'latest', 'not a version'),
  input('github-token', 'ghs_abc def', 'whitespace (a secret: never shown)'),
  {
    name: 'aws-region-secondary without its registry',
    input: 'aws-region-secondary',
    inputs: { 'aws-region-secondary': 'eu-central-1' },
  },
  {
    name: 'ecr-registry in another region than aws-region',
    input: 'ecr-registry',
    inputs: { 'ecr-registry': '111122223333.dkr.ecr.eu-west-1.amazonaws.com' },
  },
  {
    name: 'ecr-registry-secondary in another region than aws-region-secondary',
    input: 'ecr-registry-secondary',
    inputs: {
      'aws-region-secondary': 'eu-central-1',
      'ecr-registry-secondary': '111122223333.dkr.ecr.eu-west-1.amazonaws.com',
    },
  },
  // The runner's proxy variables are checked with the inputs.
  {
    name: 'HTTPS_PROXY that is not a proxy URL',
    input: 'HTTPS_PROXY',
    env: { HTTPS_PROXY: 'socks5://proxy.corp:1080' },
    names: /HTTPS_PROXY is "socks5:\/\/proxy\.corp:1080", which is not a proxy/,
  },
  {
    name: 'https_proxy that does not parse, with its password hidden',
    input: 'https_proxy',
    env: { https_proxy: 'http://ci:hunter2@[proxy' },
    names: /https_proxy is "http:\/\/ci:\*\*\*@\[proxy", which is not a proxy/,
  },
  // Tampered event payloads and refs: the version comes from them.
  dispatch('1.2.3 ', 'trailing space'),
  dispatch('refs/tags/1.2.3', 'a ref'),
  dispatch('1.2.3; rm -rf /', 'shell command'),
  dispatch('1.2.3\n1.2.4', 'newline'),
  dispatch('v1.2.3', 'leading v'),
  dispatch(123, 'a number'),
  dispatch({ tag: '1.2.3' }, 'an object'),
  pushedTag('refs/tags/v1.2.3', 'v1.2.3', 'leading v'),
  pushedTag('refs/tags/1.2.3-rc1', '1.2.3-rc1', 'pre-release'),
  pushedTag('refs/heads/main', 'main', 'a branch, no tag'),
  pushedTag('refs/tags/1.2.3', '1.2.3\n1.2.4', 'newline in the ref name'),
];

/** What the message must name for a case: the input's quoted name unless the case says otherwise. */
const named = (c: Case) => c.names ?? new RegExp(`input '${c.input}'`);

let lab: Lab;
before(async () => {
  lab = await startLab(['corpus']);
});
after(() => lab?.stop());

test(`${CASES.length} bad inputs are refused before any network call, naming the input`, async () => {
  assert.ok(CASES.length >= 60);
  const failures: string[] = [];
  await pool(CASES, 3, async (c) => {
    const dir = await mkdtemp(join(lab.scratch, 'case-'));
    const trace = join(dir, 'git-trace');
    const result = await lab.bake('corpus', c.inputs ?? {}, {
      dir,
      // A bad version is found after the private root exists: post must remove it.
      post: c.env !== undefined,
      env: { GIT_TRACE: trace, ...c.env },
      ...(c.event === undefined ? {} : { event: c.event }),
    });
    const problems: string[] = [];
    if (result.code !== 1) problems.push(`exit ${result.code}`);
    if (!named(c).test(result.failure ?? '')) problems.push(`the message does not name ${c.input}`);
    if (existsSync(trace)) problems.push('git ran');
    const secrets = Object.values(c.inputs ?? {}).filter((value) => value.startsWith('ghs_'));
    if (leakedSecrets(result, secrets).length > 0) problems.push('the token is shown');
    const state = result.state['root'];
    // Bad inputs stop before the private root exists; a bad version after it, and post removes it.
    if (state === undefined && (await readdir(result.runnerTemp)).length > 0)
      problems.push('RUNNER_TEMP is not empty');
    record({ kind: 'input', name: c.name, input: c.input, rejected: problems.length === 0 });
    if (problems.length > 0) failures.push(`${c.name}: ${problems.join(', ')}\n${why(result)}`);
  });
  assert.deepEqual(lab.world.counters.snapshot(), {}, 'no request reached any server');
  assert.deepEqual(failures, []);
});
