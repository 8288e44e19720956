#!/usr/bin/python3
"""boto3 against orders_stream_endpoint, for t/050_endpoint.pl.

  boto3_client.py consume TABLE [PAUSE_DIR PAUSE_AFTER]
      reads every stream of TABLE (ListStreams, oldest first) to its end:
      DescribeStream, GetShardIterator TRIM_HORIZON, GetRecords (Limit 1000)
      until a closed shard has no NextShardIterator or an open one is caught
      up (an empty page).  Prints "SequenceNumber id eventName version" per
      record.  With PAUSE_DIR, after PAUSE_AFTER pages it creates
      PAUSE_DIR/paused and waits for PAUSE_DIR/resume (the test restarts the
      server meanwhile).
  boto3_client.py call OPERATION JSON
      one call; prints the response as JSON, or "error CODE HTTP_STATUS" and
      exits 3.

The endpoint URL comes from ENDPOINT_URL; credentials and region from the
usual AWS_* environment variables.
"""
import json
import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client():
    return boto3.client(
        'dynamodbstreams', endpoint_url=os.environ['ENDPOINT_URL'],
        config=Config(retries={'max_attempts': 10, 'mode': 'standard'},
                      connect_timeout=5, read_timeout=60))


def consume(table, pause_dir=None, pause_after=0):
    c = client()
    streams, kw = [], {'TableName': table}
    while True:
        r = c.list_streams(**kw)
        streams += r['Streams']
        if 'LastEvaluatedStreamArn' not in r:
            break
        kw['ExclusiveStartStreamArn'] = r['LastEvaluatedStreamArn']
    pages = 0
    out = sys.stdout
    for s in streams:
        shards, kw = [], {'StreamArn': s['StreamArn']}
        while True:
            d = c.describe_stream(**kw)['StreamDescription']
            shards += d['Shards']
            if 'LastEvaluatedShardId' not in d:
                break
            kw['ExclusiveStartShardId'] = d['LastEvaluatedShardId']
        for shard in shards:
            it = c.get_shard_iterator(StreamArn=s['StreamArn'], ShardId=shard['ShardId'],
                                      ShardIteratorType='TRIM_HORIZON')['ShardIterator']
            while it:
                r = c.get_records(ShardIterator=it, Limit=1000)
                for rec in r['Records']:
                    d = rec['dynamodb']
                    image = d.get('NewImage') or d.get('OldImage')
                    out.write('%s %s %s %s\n' % (d['SequenceNumber'], d['Keys']['id']['N'],
                                                 rec['eventName'], image['version']['N']))
                it = r.get('NextShardIterator')
                if not r['Records']:
                    break
                pages += 1
                if pause_dir and pages == pause_after:
                    open(os.path.join(pause_dir, 'paused'), 'w').close()
                    while not os.path.exists(os.path.join(pause_dir, 'resume')):
                        time.sleep(0.1)
    print('boto3: %d streams, %d pages' % (len(streams), pages), file=sys.stderr)


def call(operation, request):
    c = client()
    method = getattr(c, ''.join('_' + ch.lower() if ch.isupper() else ch
                                for ch in operation).lstrip('_'))
    try:
        r = method(**json.loads(request))
    except ClientError as e:
        print('error %s %s' % (e.response['Error']['Code'],
                               e.response['ResponseMetadata']['HTTPStatusCode']))
        sys.exit(3)
    r.pop('ResponseMetadata', None)
    print(json.dumps(r, default=str))


if __name__ == '__main__':
    if sys.argv[1] == 'consume':
        consume(sys.argv[2], *(sys.argv[3:4]), *(int(a) for a in sys.argv[4:5]))
    else:
        call(sys.argv[2], sys.argv[3])
