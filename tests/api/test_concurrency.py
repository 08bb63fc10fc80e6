"""Optimistic concurrency: ETag on reads, If-Match on PUT, 412 on a stale version."""

import threading


def test_etag_and_if_match(api):
    h = api.headers()
    api.client.post("/api/vps", headers=h, json={"hostname": "oc-1", "tags": ["a"]})
    r = api.client.get("/api/vps/oc-1", headers=h)
    tag = r.headers["etag"]
    ok = api.client.put("/api/vps/oc-1", headers={**h, "If-Match": tag}, json={"tags": ["a", "b"]})
    assert ok.status_code == 200 and ok.headers["etag"] != tag
    stale = api.client.put(
        "/api/vps/oc-1", headers={**h, "If-Match": tag}, json={"tags": ["a", "c"]}
    )
    assert stale.status_code == 412, stale.text
    assert stale.json()["code"] == "precondition_failed"
    assert api.client.get("/api/vps/oc-1", headers=h).json()["tags"] == ["a", "b"]
    bad = api.client.put("/api/vps/oc-1", headers={**h, "If-Match": "garbage"}, json={"notes": "x"})
    assert bad.status_code == 422 and bad.json()["field"] == "If-Match"


def test_two_writers_same_version_one_wins(api):
    """Both read version N, both PUT with If-Match N at once: exactly one succeeds."""
    h = api.headers()
    api.client.post("/api/vps", headers=h, json={"hostname": "oc-2"})
    tag = api.client.get("/api/vps/oc-2", headers=h).headers["etag"]
    results = []

    def write(note):
        r = api.client.put("/api/vps/oc-2", headers={**h, "If-Match": tag}, json={"notes": note})
        results.append((r.status_code, note))

    threads = [threading.Thread(target=write, args=(f"writer-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(c for c, _ in results)
    assert codes == [200, 412], results
    winner = next(n for c, n in results if c == 200)
    assert api.client.get("/api/vps/oc-2", headers=h).json()["notes"] == winner


def test_writers_without_if_match_all_apply(api):
    """Only a request that asked for a version check may be refused for a stale version: 20
    concurrent PUTs of one VPS without If-Match all apply, one after the other."""
    h = api.headers()
    api.client.post("/api/vps", headers=h, json={"hostname": "oc-4"})
    before = int(api.client.get("/api/vps/oc-4", headers=h).headers["etag"].strip('"'))
    results: list[int] = []

    def write(i):
        r = api.client.put("/api/vps/oc-4", headers=h, json={"notes": f"writer-{i}"})
        results.append(r.status_code)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 20
    after = api.client.get("/api/vps/oc-4", headers=h)
    assert int(after.headers["etag"].strip('"')) == before + 20
    assert after.json()["notes"].startswith("writer-")


def test_cli_edit_add_ip_is_guarded(cli):
    assert cli("vps", "add", "oc-3", "--ip", "192.0.2.1").code == 0
    r = cli("vps", "edit", "oc-3", "--add-ip", "192.0.2.2=overseas", "--format", "json")
    assert r.code == 0, r.err
    assert [e["ip"] for e in r.json()["ip_addresses"]] == ["192.0.2.1", "192.0.2.2"]
