"""The few calls of the `requests` library the seed documents' examples use, over urllib
(`requests` is not installed here and PyPI is unreachable). On PYTHONPATH, `import requests`
in an example finds this module, so the example runs as printed."""
import json as _json
import urllib.error
import urllib.parse
import urllib.request


class Response:
    def __init__(self, status, headers, text):
        self.status_code, self.headers, self.text = status, headers, text

    def json(self):
        return _json.loads(self.text)


def request(method, url, headers=None, json=None, params=None, data=None, timeout=30):
    if params:
        url += '?' + urllib.parse.urlencode(params)
    body = data
    headers = dict(headers or {})
    if json is not None:
        body = _json.dumps(json).encode()
        headers.setdefault('Content-Type', 'application/json')
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Response(r.status, dict(r.headers), r.read().decode())
    except urllib.error.HTTPError as e:
        return Response(e.code, dict(e.headers), e.read().decode())


def get(url, **kw):
    return request('GET', url, **kw)


def post(url, **kw):
    return request('POST', url, **kw)


def patch(url, **kw):
    return request('PATCH', url, **kw)


def delete(url, **kw):
    return request('DELETE', url, **kw)
