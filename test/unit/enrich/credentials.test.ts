import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultChainHasCredentials } from '../../../agent/enrich/enrichment.js';

// Each test file runs in its own process under node --test, so changing the environment here is contained.
describe('credential probe over the SDK default chain', () => {
  it('finds credentials from the environment, and reports none (quickly) when the chain has nothing', async () => {
    // Prepare
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/lbta-credentials';
    process.env.AWS_CONFIG_FILE = '/nonexistent/lbta-config';
    delete process.env.AWS_PROFILE;
    delete process.env.AWS_WEB_IDENTITY_TOKEN_FILE;
    delete process.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
    delete process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    // Act
    const started = Date.now();
    const none = await defaultChainHasCredentials(3000);
    const took = Date.now() - started;
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLEFAKEFAKE00';
    process.env.AWS_SECRET_ACCESS_KEY = 'fake/secret/EXAMPLEKEY';
    const some = await defaultChainHasCredentials(3000);
    // Assess
    assert.equal(none, false);
    assert.ok(took < 3500, `answered in ${took} ms`);
    assert.equal(some, true);
  });
});
