#!/usr/bin/env python3
"""Writes negatives.tsv: values a product team sends every day that hold
nothing to redact. Fixed seed: the file is reproducible. Columns: category,
text. Run from this folder: python3 gen_negatives.py > negatives.tsv"""
import datetime, hashlib, random, uuid

r = random.Random(20261201)
rows = []
def add(cat, text): rows.append((cat, text))

base = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
for _ in range(250):
    t = base + datetime.timedelta(seconds=r.randrange(0, 4 * 365 * 86400), microseconds=r.randrange(0, 10**6))
    add("epoch_ms", str(int(t.timestamp() * 1000)))
    fmt = r.choice([
        "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y/%m/%d %H:%M", "%d.%m.%Y %H:%M", "%m/%d/%Y %I:%M %p",
        "%Y%m%d%H%M%S", "%Y년 %m월 %d일 %H:%M", "%a, %d %b %Y %H:%M:%S GMT", "%Y-%m-%d %H:%M:%S.%f+09:00",
        "%d-%m-%Y %H:%M", "%Y-%m-%d", "%H:%M:%S", "%d/%m/%Y", "%Y.%m.%d %H:%M:%S", "%Y年%m月%d日 %H時%M分"])
    add("timestamp", t.strftime(fmt))
for _ in range(40):
    add("epoch_s", str(r.randrange(1700000000, 1830000000)))
for _ in range(120):
    add("snowflake", str(r.randrange(10**17, 2 * 10**18)))
for _ in range(150):
    add("shopify_order_id", str(r.randrange(5 * 10**12, 7 * 10**12)))
    add("shopify_gid", "gid://shopify/%s/%d" % (r.choice(["Order", "Product", "ProductVariant", "Customer"]),
                                                  r.randrange(10**12, 10**14)))
for _ in range(100):
    add("variant_id", str(r.randrange(10**13, 5 * 10**13)))
for _ in range(60):
    add("uuid", str(uuid.UUID(int=r.getrandbits(128), version=4)))
    add("hash", hashlib.sha256(str(r.random()).encode()).hexdigest()[: r.choice([7, 12, 40, 64])])
# A bare dotted quad under 256 is an IPv4 address, whatever it versions:
# versions here are what apps send: semver, builds past 255, product tokens.
for _ in range(60):
    add("version", r.choice(["%d.%d.%d", "v%d.%d.%d", "%d.%d.%d-rc.1"]) % (r.randrange(0, 30), r.randrange(0, 50), r.randrange(0, 300)))
    add("version", "%d.0.%d.%d" % (r.randrange(100, 140), r.randrange(5000, 7000), r.randrange(0, 300)))
    add("version", "%s/%d.%d.%d.%d" % (r.choice(["Chrome", "Edg", "OPR", "YaBrowser", "Whale"]), r.randrange(100, 140),
                                        r.randrange(0, 10), r.randrange(0, 255), r.randrange(0, 255)))
for _ in range(60):
    chrome = "%d.0.%d.%d" % (r.randrange(120, 140), r.randrange(6000, 7000), r.randrange(0, 300))
    add("user_agent", r.choice([
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%s Safari/537.36" % chrome,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%s Safari/537.36" % chrome,
        "Mozilla/5.0 (Linux; Android 14; SM-S921N) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%s Mobile Safari/537.36" % chrome,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%s Safari/537.36 Edg/%s" % (chrome, chrome),
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-A536N) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/%s Mobile Safari/537.36" % chrome,
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 KAKAOTALK 10.9.5"]))
for _ in range(60):
    add("invoice_id", r.choice(["INV-%d-%06d", "SO-%d-%06d", "PO%d-%06d"]) % (r.randrange(2020, 2030), r.randrange(1, 10**6)))
    add("sku", "SKU-%04d-%04d-%02d" % (r.randrange(10**4), r.randrange(10**4), r.randrange(100)))
for _ in range(30):
    add("isbn", "978-%d-%02d-%06d-%d" % (r.randrange(10), r.randrange(100), r.randrange(10**6), r.randrange(10)))
for _ in range(60):
    add("price", r.choice(["₩%s", "$%s.%02d", "%s,%02d €", "¥%s", "R$ %s,%02d", "₹%s.%02d"]).replace("%s", "{:,}".format(r.randrange(100, 10**7)), 1)
        .replace("%02d", "%02d" % r.randrange(100)))
    add("coordinates", "%.6f, %.6f" % (r.uniform(-90, 90), r.uniform(-180, 180)))
for _ in range(40):
    add("duration", r.choice(["%dms", "%.1fs", "took %d ms", "p95=%dms"]) % r.randrange(1, 99999))
    add("tracking", "1Z%03dAA1%010d" % (r.randrange(1000), r.randrange(10**10)))
for _ in range(30):
    add("zip", "%05d" % r.randrange(10**5))
    add("path", "/admin/api/%d-%02d/%s/%d.json" % (r.randrange(2023, 2027), r.choice([1, 4, 7, 10]), r.choice(["orders", "products"]), r.randrange(10**12, 10**13)))
for text in [
    "신청서 제출 완료", "주소 검색 결과 없음 (ZERO_RESULTS)", "申込みが完了しました", "Formulário enviado com sucesso",
    "आवेदन जमा हो गया", "Antrag erfolgreich gesendet", "Shopify sync failed after 3 retries (HTTP 502)",
    "place_id ChIJN1t_tDeuEmsRUsoyG83frY4", "status 502", "latency 812.5ms", "step 3 of 5", "retry in 30s",
    "basic plan", "Basic subscription renewed", "bearer of bad news", "token expired, refreshing", "auth ok",
    "partner p-1029384 stays queued", "Order #1001 paid", "build 2026.11.25.1", "port 8080", "room 1203-B",
    "call center open 09:00-18:00", "batch 20261125-0930", "ticket JIRA-12345", "release v1.19.0-curated.97c39be",
    "Chrome/131.0.0.0", "Windows NT 10.0", "10.0.19045.4170", "iOS 17.5.1", "Android 14; SM-S921N",
    "cart total 3 items", "lat 37.5665 lng 126.9780", "2026-11-25 09:30:00 KST", "ISO 8601 2026-11-25T00:00:00+09:00",
    "pk_live_TYooMQauvdEDq54NiTphI7jx (publishable)", "version 1.2.3.4.5", "a:b:c", "user@localhost",
    "key=value pairs are parsed", "cache key=partner:1029 hit", "sort key=created_at",
]:
    add("text", text)
# URL queries whose parameters hold nothing secret, beside the ones that do
# (positives.tsv): everyday search, paging and tracking parameters.
for text in [
    "https://shop.example.com/search?q=shoes&page=2", "/apply?step=3&lang=ko", "GET /products?sort=price&order=asc",
    "https://example.com/list?page=2", "https://example.com/search?q=key+lime+pie", "/search?keyword=shoes&monkey=1",
    "https://collab.example.com/form?utm_source=newsletter&utm_campaign=fall", "/v1/places?country=KR&limit=20",
    "https://example.com/p?id=42&ref=home", "/orders?status=paid&per_page=50", "/map?lat=37.5665&lng=126.9780&zoom=12",
    "https://example.com/?hockey=1&turkey=2", "https://example.com/keys?key_type=rsa", "/docs?section=signatures",
]:
    add("text", text)
# Digit runs shaped like compact Korean mobile numbers or resident
# registration numbers, with no phone or RRN word before them: IDs, business
# registration numbers, timestamps.
for text in [
    "order 01012345678 shipped", "invoice 0161234567", "사업자등록번호 1208147521", "사업자등록번호 120-81-47521",
    "tracking 01198765432 in transit", "batch 0191234567 done", "epoch 1723102966", "build 01012345678-rc1",
]:
    add("text", text)

for cat, text in rows:
    print(cat + "\t" + text)
