#!/usr/bin/python3
"""bench/endpoint_client.py: a lean DynamoDB Streams client for bench/endpoint.sh.

SigV4 signing (hmac, hashlib) over one persistent http.client connection, so
that what is timed is the endpoint and the database rather than a client
library's object mapping: pages are not parsed, only their record count and
NextShardIterator are picked out.

  endpoint_client.py throughput URL ARN SHARD   -> "records seconds"
      reads the shard from TRIM_HORIZON to its end (an empty page), Limit 1000
  endpoint_client.py latency URL ARN SHARD N    -> one latency (ms) per line
      N GetRecords of an iterator at LATEST (empty pages)
  endpoint_client.py window URL ARN SHARD SEQ PAGES -> "records seconds"
      PAGES pages of 1000 from AFTER_SEQUENCE_NUMBER SEQ (bench/read_path.sh)

Credentials and region: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_DEFAULT_REGION.
"""
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import sys
import time
import urllib.parse

KEY = os.environ['AWS_ACCESS_KEY_ID']
SECRET = os.environ['AWS_SECRET_ACCESS_KEY']
REGION = os.environ.get('AWS_DEFAULT_REGION', 'local')


class Client:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host = u.netloc
        self.conn = http.client.HTTPConnection(u.hostname, u.port)

    def call(self, operation, request):
        body = json.dumps(request).encode()
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date = now.strftime('%Y%m%dT%H%M%SZ')
        date = amz_date[:8]
        target = 'DynamoDBStreams_20120810.' + operation
        headers = {'content-type': 'application/x-amz-json-1.0', 'host': self.host,
                   'x-amz-date': amz_date, 'x-amz-target': target}
        signed = ';'.join(sorted(headers))
        canonical = '\n'.join(['POST', '/', ''] + ['%s:%s' % (h, headers[h]) for h in sorted(headers)]
                              + ['', signed, hashlib.sha256(body).hexdigest()])
        scope = '%s/%s/dynamodb/aws4_request' % (date, REGION)
        to_sign = '\n'.join(['AWS4-HMAC-SHA256', amz_date, scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        k = ('AWS4' + SECRET).encode()
        for part in (date, REGION, 'dynamodb', 'aws4_request'):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        headers['authorization'] = ('AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s'
                                    % (KEY, scope, signed, sig))
        self.conn.request('POST', '/', body, headers)
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError('%s: HTTP %d %s' % (operation, r.status, data[:300]))
        return data


NEXT = re.compile(rb'"NextShardIterator": ?"([^"]+)"')


def iterator(c, arn, shard, kind):
    return json.loads(c.call('GetShardIterator', {'StreamArn': arn, 'ShardId': shard,
                                                  'ShardIteratorType': kind}))['ShardIterator']


def read_pages(c, it, pages):
    """Reads up to pages pages from iterator it, to the end; the records read."""
    records = 0
    while it and pages > 0:
        page = c.call('GetRecords', {'ShardIterator': it, 'Limit': 1000})
        n = page.count(b'"eventID"')
        records += n
        pages -= 1
        m = NEXT.search(page)
        it = m.group(1).decode() if m and n > 0 else None
    return records


def throughput(url, arn, shard):
    c = Client(url)
    start = time.monotonic()
    records = read_pages(c, iterator(c, arn, shard, 'TRIM_HORIZON'), float('inf'))
    print('%d %.3f' % (records, time.monotonic() - start))


def window(url, arn, shard, seq, pages):
    c = Client(url)
    it = json.loads(c.call('GetShardIterator', {'StreamArn': arn, 'ShardId': shard,
                                                'ShardIteratorType': 'AFTER_SEQUENCE_NUMBER',
                                                'SequenceNumber': seq}))['ShardIterator']
    start = time.monotonic()
    records = read_pages(c, it, pages)
    print('%d %.3f' % (records, time.monotonic() - start))


def latency(url, arn, shard, n):
    c = Client(url)
    it = iterator(c, arn, shard, 'LATEST')
    for _ in range(n):
        t = time.monotonic()
        page = c.call('GetRecords', {'ShardIterator': it, 'Limit': 1000})
        print('%.3f' % ((time.monotonic() - t) * 1000))
        if page.count(b'"eventID"'):
            raise RuntimeError('a GetRecords at LATEST was not empty')


if __name__ == '__main__':
    if sys.argv[1] == 'throughput':
        throughput(*sys.argv[2:5])
    elif sys.argv[1] == 'window':
        window(*sys.argv[2:6], int(sys.argv[6]))
    else:
        latency(*sys.argv[2:5], int(sys.argv[5]))
