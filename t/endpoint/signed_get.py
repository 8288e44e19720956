#!/usr/bin/python3
"""A SigV4-signed GET, for t/053_endpoint_metrics.pl.

  signed_get.py URL
      GETs URL signed with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for
      service dynamodb; prints "STATUS CONTENT-TYPE" on the first line, then
      the body.
"""
import os
import sys
import urllib.error
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

url = sys.argv[1]
signed = AWSRequest(method='GET', url=url)
SigV4Auth(Credentials(os.environ['AWS_ACCESS_KEY_ID'], os.environ['AWS_SECRET_ACCESS_KEY']),
          'dynamodb', os.environ.get('AWS_DEFAULT_REGION', 'us-east-1')).add_auth(signed)
request = urllib.request.Request(url, headers=dict(signed.headers.items()))
try:
    with urllib.request.urlopen(request) as response:
        status, ctype, body = response.status, response.headers['Content-Type'], response.read()
except urllib.error.HTTPError as e:
    status, ctype, body = e.code, e.headers['Content-Type'], e.read()
print(status, ctype)
sys.stdout.write(body.decode())
