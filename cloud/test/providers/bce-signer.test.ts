import { describe, expect, it } from 'vitest';
import { canonicalRequest, signBceRequest, uriEncode } from '../../src/providers/bce-signer.js';

/**
 * Baidu's published examples for bce-auth-v1:
 * - "Generate Authentication String" / "Include the Authentication String into the Header"
 *   (https://intl.cloud.baidu.com/doc/Reference/s/njwvz1yfu-en, …/Gjwvz1xez-en): the UploadPart example;
 * - the JavaScript SDK's own test vectors, baidubce/bce-sdk-js test/sdk/auth.spec.js;
 * - an IoT Core request signed the way bce-sdk-java's IoTCoreClient signs (host and x-bce-date),
 *   checked against openssl (Baidu publishes no IoT Core vector).
 */
describe('bce-auth-v1', () => {
  it("reproduces the document's UploadPart example (default signed headers, list left out)", () => {
    const authorization = signBceRequest(
      { accessKeyId: 'a'.repeat(32), secretAccessKey: 'b'.repeat(32) },
      {
        method: 'PUT',
        path: '/v1/test/myfolder/readme.txt',
        query: { partNumber: 9, uploadId: 'a44cc9bab11cbd156984767aad637851' },
        headers: {
          Host: 'bj.bcebos.com',
          Date: 'Mon, 27 Apr 2015 16:23:49 +0800',
          'Content-Type': 'text/plain',
          'Content-Length': 8,
          'Content-Md5': 'NFzcPqhviddjRNnSOGo4rw==',
          'x-bce-date': '2015-04-27T08:23:49Z',
        },
      },
      { timestamp: new Date('2015-04-27T08:23:49Z'), omitSignedHeaders: true },
    );
    expect(authorization).toBe(
      'bce-auth-v1/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/2015-04-27T08:23:49Z/1800//d74a04362e6a848f5b39b15421cb449427f419c95a480fd6b8cf9fc783e2999e',
    );
  });

  it("reproduces the JavaScript SDK's test vectors", () => {
    const credentials = { accessKeyId: 'my_ak', secretAccessKey: 'my_sk' };
    const timestamp = new Date(1402639056 * 1000);
    const put = signBceRequest(
      credentials,
      {
        method: 'PUT',
        path: '/v1/bucket/object1',
        query: { A: null, b: '', C: 'd' },
        headers: { Host: 'bce.baidu.com', abc: '123', 'x-bce-meta-key1': 'ABC' },
      },
      { timestamp },
    );
    expect(put).toBe(
      'bce-auth-v1/my_ak/2014-06-13T05:57:36Z/1800/host;x-bce-meta-key1/80c9672aca2ea9af4bb40b9a8ff458d72df94e97d550840727f3a929af271d25',
    );
    const del = signBceRequest(
      credentials,
      {
        method: 'DELETE',
        path: '/v1/test-bucket1361199862',
        headers: {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': 0,
          'User-Agent': 'This is the user-agent',
        },
      },
      { timestamp, expirationSeconds: 1800 },
    );
    expect(del).toBe(
      'bce-auth-v1/my_ak/2014-06-13T05:57:36Z/1800/content-length;content-type/c9386b15d585960ae5e6972f73ed92a9a682dc81025480ba5b41206d3e489822',
    );
  });

  it('signs an IoT Core request as IoTCoreClient does (host and x-bce-date), matching openssl', () => {
    // an independent computation of the specification's chain for this request:
    //   key=$(printf '%s' 'bce-auth-v1/my_ak/2014-06-13T05:57:36Z/1800' | openssl dgst -sha256 -hmac my_sk -r)
    //   printf 'GET\n/v1/iotcore/abcd123/template/list\npageNo=1&pageSize=100\nhost:iot.baidubce.com\n
    //           x-bce-date:2014-06-13T05%%3A57%%3A36Z' | openssl dgst -sha256 -hmac "$key"
    const authorization = signBceRequest(
      { accessKeyId: 'my_ak', secretAccessKey: 'my_sk' },
      {
        method: 'GET',
        path: '/v1/iotcore/abcd123/template/list',
        query: { pageSize: '100', pageNo: '1' },
        headers: {
          host: 'iot.baidubce.com',
          'x-bce-date': '2014-06-13T05:57:36Z',
          'content-type': 'application/json; charset=utf-8',
        },
      },
      { timestamp: new Date(1402639056 * 1000), headersToSign: ['host', 'x-bce-date'] },
    );
    expect(authorization).toBe(
      'bce-auth-v1/my_ak/2014-06-13T05:57:36Z/1800/host;x-bce-date/c569e70b2568a3e9acbadc55e4a5bc25e6be9e02d024bde33ac390deaa3c180f',
    );
  });

  it("encodes as RFC 3986 (the SDK test: !'()* and UTF-8) and keeps slashes only in the path", () => {
    expect(uriEncode("!'()*this is an example for 测试")).toBe(
      '%21%27%28%29%2Athis%20is%20an%20example%20for%20%E6%B5%8B%E8%AF%95',
    );
    const { canonical } = canonicalRequest(
      { method: 'get', path: '/v1/a b/c', query: { 'x/y': 'p q', authorization: 'ignored' }, headers: { host: 'h' } },
      ['host'],
    );
    expect(canonical).toBe('GET\n/v1/a%20b/c\nx%2Fy=p%20q\nhost:h');
  });
});
