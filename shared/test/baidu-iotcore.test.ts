import { describe, expect, it } from 'vitest';
import { baiduIotCoreAddress, baiduIotCoreHost, baiduIotCoreLogin } from '../src/index.js';

/**
 * The examples of Baidu's "通过MQTT连接及收发消息" (https://cloud.baidu.com/doc/IoTCore/s/Akck4811r):
 * IoTCoreId abcd123, DeviceKey mydevice, DeviceSecret ImSeCrEt0I1M2jkl, MD5, with the timestamp
 * 1583826857 and without one (0).
 */
const device = { iotCoreId: 'abcd123', deviceKey: 'mydevice', deviceSecret: 'ImSeCrEt0I1M2jkl' } as const;

describe('Baidu IoT Core signature login', () => {
  it("reproduces the document's MD5 example with a timestamp", () => {
    expect(baiduIotCoreLogin({ ...device, algorithm: 'MD5' }, 1583826857)).toEqual({
      username: 'thingidp@abcd123|mydevice|1583826857|MD5',
      password: '7f0e63d2c6e122100edde19e34e7df5b',
    });
  });

  it("reproduces the document's MD5 example without a clock (timestamp 0)", () => {
    expect(baiduIotCoreLogin({ ...device, algorithm: 'MD5' })).toEqual({
      username: 'thingidp@abcd123|mydevice|0|MD5',
      password: '22bc75231495220c7a2202fe15f7d286',
    });
  });

  it('signs SHA256 the same way (values from coreutils sha256sum over the same string)', () => {
    // printf '%s' 'mydevice&0&SHA256ImSeCrEt0I1M2jkl' | sha256sum
    expect(baiduIotCoreLogin({ ...device, algorithm: 'SHA256' }).password).toBe(
      '8b84e00accf874b07c1ac586830d211386294df1d2303d40d19c007c0e937af5',
    );
    expect(baiduIotCoreLogin({ ...device, algorithm: 'SHA256' }, 1583826857)).toEqual({
      username: 'thingidp@abcd123|mydevice|1583826857|SHA256',
      password: 'ad1123c877f84a90e778ce85f8772eb8ef9a09096629d8013952c45e29a47c47',
    });
  });

  it('a different secret gives a different password (the check can fail)', () => {
    const other = baiduIotCoreLogin({ ...device, deviceSecret: 'ImSeCrEt0I1M2jkm', algorithm: 'MD5' });
    expect(other.password).not.toBe('22bc75231495220c7a2202fe15f7d286');
  });

  it('the broker of an instance, as Baidu names it', () => {
    expect(baiduIotCoreHost('abcd123', 'gz')).toBe('abcd123.iot.gz.baidubce.com');
    expect(baiduIotCoreAddress('abcd123', 'bj', 'ssl')).toBe('ssl://abcd123.iot.bj.baidubce.com:1884');
    expect(baiduIotCoreAddress('abcd123', 'gz', 'tcp')).toBe('tcp://abcd123.iot.gz.baidubce.com:1883');
  });
});
