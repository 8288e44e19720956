#!/usr/bin/env python3
"""Writes test/filter_cases/cases.json, the filter conformance cases that
sql/filter.sql runs through orders_stream.filter_matches().

    python3 test/filter_cases/generate.py <event-ruler checkout> test/filter_cases/cases.json

Each case names its source: event-ruler's correctness-cases.json (read from
the checkout; each case's outcome is the one its name states), its README and
JsonRuleCompilerTest, Lambda's developer guide, LocalStack's AWS-validated
DynamoDB filter tests, or issue 16.  The README and guide examples are
adapted to DynamoDB stream records.  "match" is the expected outcome, AWS's
except where "aws_match" gives AWS's for the documented extension (numeric
rules on N strings); "error" is the message a refused pattern raises.
"""
import json, sys
cases = []
def M(source, pattern, record, match, note=None):
    c = {"source": source, "pattern": pattern, "record": record, "match": match}
    if note: c["note"] = note
    if note and "AWS: false" in note: c["aws_match"] = False
    cases.append(c)
def R(source, pattern, error):
    cases.append({"source": source, "pattern": pattern, "error": error})

# --- event-ruler's correctness cases: expected outcome read from each name
ER = "event-ruler:src/test/resources/correctness-cases.json#"
expected = {
 "flat: 2-field exists, both present": True, "flat: 2-field exists, one missing": False,
 "flat: exact match": True, "flat: exact mismatch": False, "flat: prefix": True,
 "flat: numeric range": True, "flat: anything-but": True,
 "objarray: same element": True, "objarray: split": False, "objarray: 3 elem, last valid": True,
 "objarray: 3-field, all in one": True, "objarray: 3-field, split 3 ways": False,
 "objarray: exact same elem": True, "objarray: exact split": False,
 "objarray: prefix same": True, "objarray: prefix split": False,
 "primarray: exists": True, "primarray: exact match": True, "primarray: no match": False,
 "nested: inner same": True, "nested: inner split": False, "nested: outer split": False,
 "nested: outer same": True, "nested2: same leaf": True, "nested2: split leaf": False,
 "mixed: array+scalar match": True, "mixed: array+scalar fail": False,
 "exists-false: absent": True, "exists-false: present": False,
 "empty object": False, "empty array": False, "single-field rule": True,
 "many elem one valid": True, "numeric+exists array": True, "anything-but array": True,
 "primarray: large + scalar, exists": True, "primarray: large + scalar, prefix": True,
 "primarray: large + scalar, no match": False, "primarray: nested under object": True,
 "primarray: two prim arrays + scalar": True, "primarray: exact match among many": True,
 "primarray: numeric in array": True, "primarray: anything-but in array": True,
 "primarray: single value array": True, "primarray: empty prim array": False,
 "mixed: obj-array + prim-array": True, "mixed: obj-array split + prim-array": False,
 "deep prim: nested 3 levels": True, "suffix match in array": True,
 "N emails, only last element has name \u2014 dedup loses the only valid match": True,
 "suffix match split": False,
}
for c in json.load(open(sys.argv[1] + "/src/test/resources/correctness-cases.json")):
    M(ER + c["name"], c["rule"], c["event"], expected[c["name"]])

# --- a DynamoDB stream record of an order (NEW_AND_OLD_IMAGES)
ORDER = {"eventID": "7de3041dd709b024af6f29e4fa13d34c", "eventName": "MODIFY", "eventVersion": "1.1",
 "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
 "dynamodb": {"ApproximateCreationDateTime": 1700000000, "Keys": {"id": {"S": "o-1001"}},
  "NewImage": {"id": {"S": "o-1001"}, "customer": {"S": "\u00c9cole Polytechnique"},
   "region": {"S": "us-west-2"}, "file": {"S": "invoice.PNG"}, "quantity": {"N": "26"},
   "price": {"N": "19.5"}, "gift": {"BOOL": True}, "note": {"NULL": True},
   "tags": {"SS": ["blue", "red"]}, "codes": {"NS": ["3", "7"]},
   "lines": {"L": [{"M": {"sku": {"S": "A1"}, "qty": {"N": "2"}}}, {"M": {"sku": {"S": "B2"}, "qty": {"N": "5"}}}]},
   "history": {"L": [{"S": "created"}, {"S": "paid"}]},
   "address": {"M": {"city": {"S": "Paris"}, "zip": {"S": "75005"}}},
   "path": {"S": "/usr/bin/app.jar"}, "status": {"S": "SHIPPED"}, "star": {"S": "a*b"},
   "service": {"S": "Simple Queue Service"}, "empty": {"S": ""}},
  "OldImage": {"id": {"S": "o-1001"}, "status": {"S": "PAID"}, "quantity": {"N": "26.0"}},
  "SequenceNumber": "100000000000000000001", "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
def img(fields):
    return {"dynamodb": {"NewImage": fields}}
def attr(name, typ, rules):
    return img({name: {typ: rules}})
S = "event-ruler:README.md#"
# simple matching, arrays
M(S+"simple matching", {"eventName": ["MODIFY"], "dynamodb": {"Keys": {"id": {"S": ["o-1001"]}}}}, ORDER, True)
M(S+"simple matching", {"eventName": ["INSERT", "MODIFY"]}, ORDER, True)
M(S+"simple matching", {"eventName": ["INSERT", "REMOVE"]}, ORDER, False)
M(S+"simple matching: every field", {"eventName": ["MODIFY"], "awsRegion": ["eu-west-1"]}, ORDER, False)
M(S+"simple matching: fields ignored", {"awsRegion": ["us-east-1"]}, ORDER, True)
M(S+"simple matching: array intersection", attr("tags", "SS", ["red"]), ORDER, True, "issue 16: SS")
M(S+"simple matching: array intersection", attr("tags", "SS", ["green", "blue"]), ORDER, True)
M(S+"simple matching: array intersection", attr("tags", "SS", ["green"]), ORDER, False)
M(S+"simple matching: array intersection", attr("codes", "NS", ["7"]), ORDER, True)
M(S+"simple matching: array intersection", attr("history", "L", {"S": ["paid"]}), ORDER, True, "issue 16: L of S")
M(S+"simple matching: array intersection", attr("history", "L", {"S": ["shipped"]}), ORDER, False)
M(S+"simple matching: array intersection", attr("lines", "L", {"M": {"sku": {"S": ["A1"]}}}), ORDER, True, "issue 16: L of M")
M(S+"simple matching: array intersection", attr("lines", "L", {"M": {"sku": {"S": ["C3"]}}}), ORDER, False)
M(S+"array consistency", attr("lines", "L", {"M": {"sku": {"S": ["A1"]}, "qty": {"N": ["2"]}}}), ORDER, True)
M(S+"array consistency", attr("lines", "L", {"M": {"sku": {"S": ["A1"]}, "qty": {"N": ["5"]}}}), ORDER, False)
M(S+"simple matching: nested map", attr("address", "M", {"city": {"S": ["Paris"]}}), ORDER, True)
M(S+"simple matching: nested map", attr("address", "M", {"city": {"S": ["Lyon"]}}), ORDER, False)
M(S+"simple matching: typed value", img({"status": ["SHIPPED"]}), ORDER, False, "the value is {\"S\": ...}, an object")
M(S+"simple matching: empty string", attr("empty", "S", [""]), ORDER, True)
M(S+"simple matching: boolean", attr("gift", "BOOL", [True]), ORDER, True)
M(S+"simple matching: boolean", attr("gift", "BOOL", [False]), ORDER, False)
M(S+"simple matching: null", attr("note", "NULL", [True]), ORDER, True)
M(S+"simple matching: null", {"dynamodb": {"NewImage": {"note": {"NULL": [None]}}}}, ORDER, False)
M(S+"simple matching: null", {"UserID": [None]}, {"UserID": None}, True)
M(S+"simple matching: null", {"UserID": [None]}, {"UserID": "x"}, False)
M(S+"simple matching: null", {"UserID": [None]}, {}, False)
M(S+"simple matching: case", {"eventName": ["modify"]}, ORDER, False)
# numbers: literal by text, numeric by value
M("lambda-guide:invocation-eventfiltering#numbers", {"dynamodb": {"SizeBytes": [26]}}, ORDER, True)
M("lambda-guide:invocation-eventfiltering#numbers", {"dynamodb": {"SizeBytes": [26.0]}}, ORDER, False, "issue 16: 26.0 is not 26 as a literal")
M("lambda-guide:invocation-eventfiltering#numbers", {"dynamodb": {"SizeBytes": [{"numeric": ["=", 26.0]}]}}, ORDER, True)
M("lambda-guide:invocation-eventfiltering#numbers", {"dynamodb": {"SizeBytes": [{"numeric": ["=", 2.6e1]}]}}, ORDER, True)
M("lambda-guide:invocation-eventfiltering#numbers", {"dynamodb": {"SizeBytes": ["26"]}}, ORDER, False)
M("lambda-guide:invocation-eventfiltering#numbers", attr("quantity", "N", ["26"]), ORDER, True)
M("lambda-guide:invocation-eventfiltering#numbers", {"dynamodb": {"OldImage": {"quantity": {"N": ["26"]}}}}, ORDER, False, "N strings compare as text: 26.0 is not 26")
M("lambda-guide:invocation-eventfiltering#numbers", attr("quantity", "N", [26]), ORDER, False, "a number never equals a string")
# prefix / suffix / equals-ignore-case
M(S+"prefix matching", attr("region", "S", [{"prefix": "us-"}]), ORDER, True)
M(S+"prefix matching", attr("region", "S", [{"prefix": "eu-"}]), ORDER, False)
M(S+"prefix matching", attr("region", "S", [{"prefix": "US-"}]), ORDER, False)
M(S+"prefix matching", attr("region", "S", [{"prefix": ""}]), ORDER, True)
M(S+"prefix matching: arrays", attr("tags", "SS", [{"prefix": "re"}]), ORDER, True, "issue 16: prefix on SS")
M(S+"prefix matching: arrays", attr("tags", "SS", [{"prefix": "gr"}]), ORDER, False)
M(S+"prefix matching: strings only", {"dynamodb": {"SizeBytes": [{"prefix": "2"}]}}, ORDER, False)
M(S+"prefix equals-ignore-case matching", attr("region", "S", [{"prefix": {"equals-ignore-case": "US-WEST"}}]), ORDER, True)
M(S+"prefix equals-ignore-case matching", attr("region", "S", [{"prefix": {"equals-ignore-case": "EU"}}]), ORDER, False)
M(S+"prefix equals-ignore-case matching", attr("customer", "S", [{"prefix": {"equals-ignore-case": "\u00e9COLE"}}]), ORDER, True)
M(S+"suffix matching", attr("file", "S", [{"suffix": ".PNG"}]), ORDER, True)
M(S+"suffix matching", attr("file", "S", [{"suffix": ".png"}]), ORDER, False)
M(S+"suffix matching: arrays", attr("tags", "SS", [{"suffix": "ue"}]), ORDER, True)
M(S+"suffix equals-ignore-case matching", attr("file", "S", [{"suffix": {"equals-ignore-case": ".png"}}]), ORDER, True)
M(S+"suffix equals-ignore-case matching", attr("file", "S", [{"suffix": {"equals-ignore-case": ".jpg"}}]), ORDER, False)
M(S+"equals-ignore-case matching", attr("status", "S", [{"equals-ignore-case": "shipped"}]), ORDER, True)
M(S+"equals-ignore-case matching", attr("status", "S", [{"equals-ignore-case": "shipp"}]), ORDER, False)
M(S+"equals-ignore-case matching", attr("customer", "S", [{"equals-ignore-case": "\u00c9COLE POLYTECHNIQUE"}]), ORDER, True, "issue 16: Unicode")
M(S+"equals-ignore-case matching", attr("customer", "S", [{"equals-ignore-case": "\u00e9cole polytechnique"}]), ORDER, True, "issue 16: Unicode")
M(S+"equals-ignore-case matching", attr("customer", "S", [{"equals-ignore-case": "ecole polytechnique"}]), ORDER, False, "no accent folding")
M(S+"equals-ignore-case matching", {"name": [{"equals-ignore-case": "\u0391\u0398\u0397\u039d\u0391"}]}, {"name": "\u03b1\u03b8\u03b7\u03bd\u03b1"}, True, "Greek")
M(S+"equals-ignore-case matching", {"name": [{"equals-ignore-case": "STRASSE"}]}, {"name": "strasse"}, True)
M(S+"equals-ignore-case matching: strings only", {"dynamodb": {"SizeBytes": [{"equals-ignore-case": "26"}]}}, ORDER, False)
M(S+"equals-ignore-case matching: arrays", attr("tags", "SS", [{"equals-ignore-case": "RED"}]), ORDER, True)
# wildcard
M(S+"wildcard matching", attr("service", "S", [{"wildcard": "Simple*Service"}]), ORDER, True)
M(S+"wildcard matching", attr("service", "S", [{"wildcard": "Simple*Storage"}]), ORDER, False)
M(S+"wildcard matching", attr("service", "S", [{"wildcard": "*Queue*"}]), ORDER, True)
M(S+"wildcard matching", attr("service", "S", [{"wildcard": "*queue*"}]), ORDER, False)
M(S+"wildcard matching", attr("service", "S", [{"wildcard": "Simple Queue Service"}]), ORDER, True)
M(S+"wildcard matching", attr("service", "S", [{"wildcard": "Simple"}]), ORDER, False)
M(S+"wildcard matching", attr("service", "S", [{"wildcard": "*"}]), ORDER, True)
M(S+"wildcard matching", attr("empty", "S", [{"wildcard": "*"}]), ORDER, True)
M(S+"wildcard matching", attr("path", "S", [{"wildcard": "*/bin/*.jar"}]), ORDER, True)
M(S+"wildcard matching", attr("path", "S", [{"wildcard": "*/bin/*.class"}]), ORDER, False)
M(S+"wildcard matching: escaped *", attr("star", "S", [{"wildcard": "a\\*b"}]), ORDER, True)
M(S+"wildcard matching: escaped *", attr("star", "S", [{"wildcard": "a\\*c"}]), ORDER, False)
M(S+"wildcard matching: escaped *", {"p": [{"wildcard": "a\\*b"}]}, {"p": "axb"}, False)
M(S+"wildcard matching: escaped \\", {"p": [{"wildcard": "a\\\\b"}]}, {"p": "a\\b"}, True)
M(S+"wildcard matching: overlap", {"p": [{"wildcard": "*ab*ab*"}]}, {"p": "xabyab"}, True)
M(S+"wildcard matching: overlap", {"p": [{"wildcard": "*ab*ab"}]}, {"p": "abab"}, True)
M(S+"wildcard matching: overlap", {"p": [{"wildcard": "ab*ab"}]}, {"p": "ab"}, False)
M(S+"wildcard matching: overlap", {"p": [{"wildcard": "a*a*a"}]}, {"p": "aaa"}, True)
M(S+"wildcard matching: overlap", {"p": [{"wildcard": "a*a*a"}]}, {"p": "aa"}, False)
M(S+"wildcard matching: arrays", attr("tags", "SS", [{"wildcard": "r*d"}]), ORDER, True)
M(S+"wildcard matching: strings only", {"dynamodb": {"SizeBytes": [{"wildcard": "2*"}]}}, ORDER, False)
# anything-but
M(S+"anything-but matching", {"eventName": [{"anything-but": "INSERT"}]}, ORDER, True)
M(S+"anything-but matching", {"eventName": [{"anything-but": "MODIFY"}]}, ORDER, False)
M(S+"anything-but matching", {"eventName": [{"anything-but": ["INSERT", "REMOVE"]}]}, ORDER, True)
M(S+"anything-but matching", {"eventName": [{"anything-but": ["INSERT", "MODIFY"]}]}, ORDER, False)
M(S+"anything-but matching: number", {"dynamodb": {"SizeBytes": [{"anything-but": 123}]}}, ORDER, True)
M(S+"anything-but matching: number", {"dynamodb": {"SizeBytes": [{"anything-but": 26}]}}, ORDER, False)
M(S+"anything-but matching: number list", {"dynamodb": {"SizeBytes": [{"anything-but": [100, 200, 300]}]}}, ORDER, True)
M(S+"anything-but matching: number list", {"dynamodb": {"SizeBytes": [{"anything-but": [26.0, 200]}]}}, ORDER, False, "anything-but numbers compare by value")
M(S+"anything-but matching: absent", attr("missing", "S", [{"anything-but": "x"}]), ORDER, False)
M(S+"anything-but matching: arrays", attr("tags", "SS", [{"anything-but": "red"}]), ORDER, True, "blue is not red")
M(S+"anything-but matching: arrays", attr("tags", "SS", [{"anything-but": ["red", "blue"]}]), ORDER, False)
M(S+"anything-but prefix", attr("status", "S", [{"anything-but": {"prefix": "SHIP"}}]), ORDER, False)
M(S+"anything-but prefix", attr("status", "S", [{"anything-but": {"prefix": "PAI"}}]), ORDER, True)
M(S+"anything-but prefix list", attr("status", "S", [{"anything-but": {"prefix": ["PAI", "SHI"]}}]), ORDER, False, "issue 16: once raised 22023")
M(S+"anything-but prefix list", attr("status", "S", [{"anything-but": {"prefix": ["PAI", "CAN"]}}]), ORDER, True)
M(S+"anything-but suffix", attr("file", "S", [{"anything-but": {"suffix": ".PNG"}}]), ORDER, False)
M(S+"anything-but suffix list", attr("file", "S", [{"anything-but": {"suffix": [".gif", ".jpg"]}}]), ORDER, True)
M(S+"anything-but-ignore-case", attr("status", "S", [{"anything-but": {"equals-ignore-case": "Shipped"}}]), ORDER, False)
M(S+"anything-but-ignore-case", attr("status", "S", [{"anything-but": {"equals-ignore-case": "Paid"}}]), ORDER, True)
M(S+"anything-but-ignore-case list", attr("status", "S", [{"anything-but": {"equals-ignore-case": ["paid", "shipped"]}}]), ORDER, False)
M(S+"anything-but wildcard", attr("path", "S", [{"anything-but": {"wildcard": "*/bin/*.jar"}}]), ORDER, False)
M(S+"anything-but wildcard list", attr("path", "S", [{"anything-but": {"wildcard": ["*/bin/*.class", "*.war"]}}]), ORDER, True)
M(S+"anything-but: other types", attr("gift", "BOOL", [{"anything-but": "true"}]), ORDER, True, "a boolean is not the string \"true\"")
M(S+"anything-but: other types", {"dynamodb": {"SizeBytes": [{"anything-but": {"prefix": "2"}}]}}, ORDER, True)
M(S+"anything-but: other types", {"dynamodb": {"SizeBytes": [{"anything-but": "26"}]}}, ORDER, True)
M(S+"anything-but: other types", attr("quantity", "N", [{"anything-but": [26]}]), ORDER, True, "an N string is not the number 26")
# numeric
M(S+"numeric matching", {"dynamodb": {"SizeBytes": [{"numeric": [">", 0, "<=", 26]}]}}, ORDER, True)
M(S+"numeric matching", {"dynamodb": {"SizeBytes": [{"numeric": [">", 0, "<", 26]}]}}, ORDER, False)
M(S+"numeric matching", {"dynamodb": {"SizeBytes": [{"numeric": [">=", 26]}]}}, ORDER, True)
M(S+"numeric matching", {"dynamodb": {"SizeBytes": [{"numeric": [">", 26]}]}}, ORDER, False)
M(S+"numeric matching", {"dynamodb": {"SizeBytes": [{"numeric": ["<", 26.5]}]}}, ORDER, True)
M(S+"numeric matching", {"dynamodb": {"SizeBytes": [{"numeric": ["<=", 25.999]}]}}, ORDER, False)
M(S+"numeric matching", {"dynamodb": {"SizeBytes": [{"numeric": ["=", 3.0e2]}]}}, ORDER, False)
M(S+"numeric matching", {"x": [{"numeric": ["=", 3.0e2]}]}, {"x": 300}, True, "300, 300.0 and 3.0e2 are equal by value")
M(S+"numeric matching", {"x": [{"numeric": ["<", -1]}]}, {"x": -4e-6}, False)
M(S+"numeric matching", {"x": [{"numeric": ["<", 0]}]}, {"x": -4e-6}, True)
M(S+"numeric matching: strings", {"x": [{"numeric": [">", 0]}]}, {"x": "5"}, False, "a string is no number")
M("localstack:test_dynamodb_event_filter[date_time_conversion]", {"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}}, ORDER, True)
M("orders_stream extension (README): numeric on N strings", attr("quantity", "N", [{"numeric": [">", 20, "<=", 26]}]), ORDER, True, "AWS: false")
M("orders_stream extension (README): numeric on N strings", attr("price", "N", [{"numeric": ["=", 19.5]}]), ORDER, True, "AWS: false")
M("orders_stream extension (README): numeric on N strings", attr("quantity", "N", [{"numeric": ["<", 26]}]), ORDER, False)
M("orders_stream extension (README): numeric on N strings", attr("codes", "NS", [{"numeric": [">", 5]}]), ORDER, True, "AWS: false")
M("orders_stream extension (README): numeric on N strings", attr("status", "S", [{"numeric": [">", 0]}]), ORDER, False, "S strings are never numbers")
M("orders_stream extension (README): numeric on N strings", {"dynamodb": {"OldImage": {"quantity": {"N": [{"numeric": ["=", 26]}]}}}}, ORDER, True, "AWS: false")
# exists
M(S+"exists matching", attr("customer", "S", [{"exists": True}]), ORDER, True)
M(S+"exists matching", attr("missing", "S", [{"exists": True}]), ORDER, False)
M(S+"exists matching", attr("missing", "S", [{"exists": False}]), ORDER, True)
M(S+"exists matching", attr("customer", "S", [{"exists": False}]), ORDER, False)
M("lambda-guide:with-ddb-filtering#exists", img({"customer": [{"exists": True}]}), ORDER, False, "issue 16: exists applies to leaves only")
M("lambda-guide:with-ddb-filtering#exists", img({"customer": [{"exists": False}]}), ORDER, True, "issue 16: no leaf at a non-leaf")
M(S+"exists matching: arrays", attr("tags", "SS", [{"exists": True}]), ORDER, True)
M(S+"exists matching: empty array", {"tags": [{"exists": True}]}, {"tags": []}, False)
M(S+"exists matching: empty array", {"tags": [{"exists": False}]}, {"tags": []}, True)
M(S+"exists matching: null", {"x": [{"exists": True}]}, {"x": None}, True)
M(S+"exists matching: nested absent", {"dynamodb": {"OldImage": {"gift": {"BOOL": [{"exists": False}]}}}}, ORDER, True)
M(S+"exists matching: nested absent", {"dynamodb": {"Missing": {"gift": {"BOOL": [{"exists": False}]}}}}, ORDER, True, "an absent parent has no leaf")
M(S+"exists matching: nested absent", {"dynamodb": {"Missing": {"gift": {"BOOL": [{"exists": True}]}}}}, ORDER, False)
M(S+"exists matching: or with a value", attr("missing", "S", ["x", {"exists": False}]), ORDER, True)
# $or
M(S+"$or", {"$or": [{"eventName": ["INSERT"]}, {"awsRegion": ["us-east-1"]}]}, ORDER, True)
M(S+"$or", {"$or": [{"eventName": ["INSERT"]}, {"awsRegion": ["eu-west-1"]}]}, ORDER, False)
M(S+"$or", {"eventName": ["MODIFY"], "$or": [{"awsRegion": ["eu-west-1"]}, {"eventSource": ["aws:dynamodb"]}]}, ORDER, True)
M(S+"$or", {"eventName": ["REMOVE"], "$or": [{"awsRegion": ["us-east-1"]}, {"eventSource": ["aws:dynamodb"]}]}, ORDER, False)
M(S+"$or: nested", {"dynamodb": {"NewImage": {"$or": [{"status": {"S": ["PAID"]}}, {"quantity": {"N": [{"numeric": [">", 20]}]}}]}}}, ORDER, True)
M(S+"$or: nested", {"dynamodb": {"NewImage": {"$or": [{"status": {"S": ["PAID"]}}, {"region": {"S": [{"prefix": "eu"}]}}]}}}, ORDER, False)
M(S+"$or: three", {"dynamodb": {"$or": [{"OldImage": {"status": {"S": ["PAID"]}}}, {"NewImage": {"status": {"S": ["PAID"]}}}, {"Keys": {"id": {"S": ["x"]}}}]}}, ORDER, True)
M(S+"$or: nested $or", {"$or": [{"eventName": ["INSERT"]}, {"$or": [{"awsRegion": ["x"]}, {"eventSource": ["aws:dynamodb"]}]}]}, ORDER, True)
M(S+"$or: two groups", {"$or": [{"eventName": ["MODIFY"]}, {"awsRegion": ["x"]}], "dynamodb": {"$or": [{"SizeBytes": [1]}, {"StreamViewType": ["NEW_IMAGE"]}]}}, ORDER, False)
M(S+"$or: field named like an operator outside $or", {"prefix": ["x"]}, {"prefix": "x"}, True)
# Lambda developer guide, DynamoDB
LG = "lambda-guide:with-ddb-filtering#"
GUIDE = {"eventID": "1", "eventVersion": "1.0", "dynamodb": {"ApproximateCreationDateTime": 1678831218.0,
  "Keys": {"CustomerName": {"S": "AnyCompany Industries"}},
  "NewImage": {"AccountManager": {"S": "Pat Candella"}, "PaymentTerms": {"S": "60 days"}, "CustomerName": {"S": "AnyCompany Industries"}},
  "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "NEW_IMAGE"}}
M(LG+"table keys", {"dynamodb": {"Keys": {"CustomerName": {"S": ["AnyCompany Industries"]}}}}, GUIDE, True)
M(LG+"table keys", {"dynamodb": {"Keys": {"CustomerName": {"S": ["Example Corp"]}}}}, GUIDE, False)
M(LG+"table attributes", {"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella"]}}}}, GUIDE, True)
M(LG+"boolean expressions", {"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella"]}, "PaymentTerms": {"S": ["60 days"]}}}}, GUIDE, True)
M(LG+"boolean expressions", {"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella"]}, "PaymentTerms": {"S": ["30 days"]}}}}, GUIDE, False)
M(LG+"exists", {"dynamodb": {"NewImage": {"AccountManager": {"S": [{"exists": True}]}}}}, GUIDE, True)
M(LG+"exists", {"dynamodb": {"NewImage": {"AccountManager": [{"exists": True}]}}}, GUIDE, False, "the guide: leave out S and it does not match")
M(LG+"JSON format", {"dynamodb": {"NewImage": {"AccountManager": ["Pat Candella"]}}}, GUIDE, False, "DynamoDB JSON needs the type key")
M(LG+"size", {"dynamodb": {"SizeBytes": [{"numeric": [">", 10]}]}}, GUIDE, True)
IEF = "lambda-guide:invocation-eventfiltering#filter rule syntax: "
M(IEF+"empty", {"LastName": [""]}, {"LastName": ""}, True)
M(IEF+"equals", {"Name": ["Alice"]}, {"Name": "Alice"}, True)
M(IEF+"equals (ignore case)", {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"}, True)
M(IEF+"and", {"Location": ["New York"], "Day": ["Monday"]}, {"Location": "New York", "Day": "Tuesday"}, False)
M(IEF+"or", {"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Debit"}, True)
M(IEF+"or (multiple fields)", {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}, {"Location": "Boston", "Day": "Monday"}, True)
M(IEF+"not", {"Weather": [{"anything-but": ["Raining"]}]}, {"Weather": "Raining"}, False)
M(IEF+"numeric (equals)", {"Price": [{"numeric": ["=", 100]}]}, {"Price": 100}, True)
M(IEF+"numeric (range)", {"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 20}, True)
M(IEF+"numeric (range)", {"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 10}, False)
M(IEF+"exists", {"ProductName": [{"exists": True}]}, {"ProductName": "x"}, True)
M(IEF+"does not exist", {"ProductName": [{"exists": False}]}, {"Product": "x"}, True)
M(IEF+"begins with", {"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"}, True)
M(IEF+"ends with", {"FileName": [{"suffix": ".png"}]}, {"FileName": "image.png"}, True)
# LocalStack's AWS-validated DynamoDB cases
LS = "localstack:test_dynamodb_event_filter["
def ddb(name, image):
    return {"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": {"NewImage": image, "Keys": {"id": image["id"]}}}
M(LS+"insert_same_entry_twice]", {"eventName": ["INSERT"]}, ddb("INSERT", {"id": {"S": "id_value"}}), True)
M(LS+"insert_same_entry_twice]", {"eventName": ["INSERT"]}, ddb("MODIFY", {"id": {"S": "id_value"}}), False)
M(LS+"content_or_filter]", {"eventName": ["INSERT", "MODIFY"]}, ddb("MODIFY", {"id": {"S": "id_value"}, "id2": {"S": "id2_new_value"}}), True)
M(LS+"content_filter_type]", {"dynamodb": {"NewImage": {"presentKey": {"S": ["presentValue"]}}}}, ddb("INSERT", {"id": {"S": "id_value_1"}, "presentKey": {"S": "presentValue"}}), True)
M(LS+"content_filter_type]", {"dynamodb": {"NewImage": {"presentKey": ["presentValue"]}}}, ddb("INSERT", {"id": {"S": "id_value_1"}, "presentKey": {"S": "presentValue"}}), False)
M(LS+"exists_filter_type]", {"dynamodb": {"NewImage": {"presentKey": {"S": [{"exists": True}]}}}}, ddb("INSERT", {"id": {"S": "id_value_2"}}), False)
M(LS+"exists_false_filter]", {"dynamodb": {"NewImage": {"presentKey": [{"exists": False}]}}}, ddb("INSERT", {"id": {"S": "id_value_1"}}), True)
M(LS+"exists_false_filter]", {"dynamodb": {"NewImage": {"presentKey": [{"exists": False}]}}}, ddb("INSERT", {"id": {"S": "id_value_2"}, "presentKey": {"S": "presentValue"}}), True, "presentKey holds an object, not a leaf")
NF = {"dynamodb": {"NewImage": {"numericFilter": {"N": [{"numeric": [">", 100]}, {"anything-but": "101"}]}}}}
M(LS+"numeric_filter]", NF, ddb("INSERT", {"id": {"S": "id_value_1"}, "numericFilter": {"N": "42"}}), True)
M(LS+"numeric_filter]", NF, ddb("INSERT", {"id": {"S": "id_value_2"}, "numericFilter": {"N": "101"}}), True, "orders_stream extension (README); AWS: false")
M(LS+"prefix_filter]", {"dynamodb": {"NewImage": {"prefix": {"S": [{"prefix": "us-1"}]}}}}, ddb("INSERT", {"id": {"S": "id_value_1"}, "prefix": {"S": "us-1-other-suffix"}}), True)
M(LS+"prefix_filter]", {"dynamodb": {"NewImage": {"prefix": {"S": [{"prefix": "us-1"}]}}}}, ddb("INSERT", {"id": {"S": "id_value_1"}, "prefix": {"S": "other-suffix"}}), False)
# exactly
M("event-ruler:JsonRuleCompilerTest#testCompile exactly", {"x": [{"exactly": "child"}]}, {"x": "child"}, True)

# --- patterns AWS refuses
P = "Invalid filter pattern definition: "
JT = "event-ruler:JsonRuleCompilerTest#testCompile"
NT = "event-ruler:JsonRuleCompilerTest#testNumericExpressions"
R(JT, [1, 2, 3], P+"Filter is not an object")
R(JT, {"a": 1}, P+"\"a\" must be an object or an array")
R(JT, {"a": [{"x": 2}]}, P+"Unrecognized match type x")
R(JT, {"foo": {}}, P+"Empty objects are not allowed")
R(JT, {"foo": []}, P+"Empty arrays are not allowed")
R("issue 16", {}, P+"Empty objects are not allowed")
R(JT, {"a": [{"exactly": 33}]}, P+"exact match pattern must be a string")
R(JT, {"a": [{"prefix": "child", "foo": []}]}, P+"Only one key allowed in match expression")
R("issue 16", {"a": [{"prefix": "a", "suffix": "z"}]}, P+"Only one key allowed in match expression")
R(JT, {"a": [{"prefix": 3}]}, P+"prefix match pattern must be a string")
R(JT, {"a": [{"suffix": 3}]}, P+"suffix match pattern must be a string")
R(JT, {"a": [{"foo": "child"}]}, P+"Unrecognized match type foo")
R(JT, {"a": [{"anything-but": "child", "foo": []}]}, P+"Only one key allowed in match expression")
R(JT, {"a": [{"anything-but": ["child0", 111, "child2"]}]}, P+"Inside anything but list, either all values are number or string, mixed type is not supported")
R(JT, {"a": [{"anything-but": {"foo": 3}}]}, P+"Unsupported anything-but pattern: foo")
R(JT, {"a": [{"anything-but": {"prefix": 27}}]}, P+"prefix/suffix match pattern must be a string")
R(JT, {"a": [{"anything-but": {"prefix": ""}}]}, P+"Null prefix/suffix not allowed")
R(JT, {"a": [{"anything-but": {"prefix": "foo", "a": 1}}]}, P+"Too many elements in numeric expression")
R(JT, {"a": [{"anything-but": {"prefix": ["1", ""]}}]}, P+"Null prefix/suffix not allowed")
R(JT, {"a": [{"anything-but": {"prefix": [1, 2, 3]}}]}, P+"prefix/suffix match pattern must be a string")
R(JT, {"a": [{"anything-but": {"suffix": 27}}]}, P+"prefix/suffix match pattern must be a string")
R(JT, {"a": [{"anything-but": {"suffix": ""}}]}, P+"Null prefix/suffix not allowed")
R(JT, {"a": [{"anything-but": {"suffix": [1, 2, 3]}}]}, P+"prefix/suffix match pattern must be a string")
R(JT, {"a": [{"anything-but": {"equals-ignore-case": [1, 2, 3]}}]}, P+"Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.")
R(JT, {"a": [{"anything-but": {"wildcard": 27}}]}, P+"wildcard match pattern must be a string")
R(JT, {"a": [{"anything-but": {"wildcard": "foo**bar"}}]}, P+"Consecutive wildcard characters at pos 4")
R(JT, {"a": [{"anything-but": {"wildcard": "foo*bar\\"}}]}, P+"Invalid escape character at pos 8")
R(JT, {"a": [{"anything-but": {"wildcard": ["1", "foo**bar"]}}]}, P+"Consecutive wildcard characters at pos 4")
R(JT, {"a": [{"anything-but": {"wildcard": [1, 2, 3]}}]}, P+"wildcard match pattern must be a string")
R(JT, {"a": [{"equals-ignore-case": 5}]}, P+"equals-ignore-case match pattern must be a string")
R(JT, {"a": [{"equals-ignore-case": ["abc"]}]}, P+"equals-ignore-case match pattern must be a string")
R(JT, {"a": [{"prefix": {"invalid-expression": ["abc"]}}]}, P+"Unsupported prefix pattern: invalid-expression")
R(JT, {"a": [{"prefix": {"equals-ignore-case": 5}}]}, P+"equals-ignore-case match pattern must be a string")
R(JT, {"a": [{"prefix": {"equals-ignore-case": "abc", "test": "def"}}]}, P+"Only one key allowed in match expression")
R(JT, {"a": [{"suffix": {"invalid-expression": ["abc"]}}]}, P+"Unsupported suffix pattern: invalid-expression")
R(JT, {"a": [{"suffix": {"equals-ignore-case": ["abc"]}}]}, P+"equals-ignore-case match pattern must be a string")
R(JT, {"a": [{"wildcard": 5}]}, P+"wildcard match pattern must be a string")
R(JT, {"a": [{"wildcard": ["abc"]}]}, P+"wildcard match pattern must be a string")
R(S+"wildcard matching", {"a": [{"wildcard": "a\\b"}]}, P+"Invalid escape character at pos 2")
R(S+"wildcard matching", {"a": [{"wildcard": "a**b"}]}, P+"Consecutive wildcard characters at pos 2")
R(NT, {"x": [{"numeric": ["=", True]}]}, P+"Value of equals must be numeric")
R(NT, '{"x": [{"numeric": ["=", 2.0e422]}]}', P+"Cannot compare number : 2" + "0" * 422)
R(NT, '{"x": [{"numeric": ["<", 1E309]}]}', P+"Cannot compare number : 1" + "0" * 309)
R(NT, '{"x": [{"numeric": ["<", 1E-325]}]}', P+"Cannot compare number : 0." + "0" * 324 + "1")
R(NT, {"x": [{"numeric": ["=", "-4e-6"]}]}, P+"Value of equals must be numeric")
R(NT, {"x": [{"numeric": ["="]}]}, P+"Value of equals must be numeric")
R(NT, {"x": [{"numeric": ["<", True]}]}, P+"Value of < must be numeric")
R(NT, {"x": [{"numeric": [">="]}]}, P+"Value of >= must be numeric")
R(NT, {"x": [{"numeric": ["<>", 1, ">", 0]}]}, P+"Unrecognized numeric range operator: <>")
R(NT, {"x": [{"numeric": ["==", 1, ">", 0]}]}, P+"Unrecognized numeric range operator: ==")
R(NT, {"x": [{"numeric": ["<", 1, ">", 0]}]}, P+"Too many elements in numeric expression")
R(NT, {"x": [{"numeric": [">", 1, "<", 1]}]}, P+"Bottom must be less than top")
R(NT, {"x": [{"numeric": [">", 30, "<", 1]}]}, P+"Bottom must be less than top")
R(NT, {"x": [{"numeric": [">", 1, "<", 30, False]}]}, P+"Too many terms in numeric range expression")
R(NT, {"x": [{"numeric": [">", 1, ">", 30]}]}, P+"Bad numeric range operator: >")
R(NT, {"x": [{"numeric": [">", 1, 30]}]}, P+"Bad value in numeric range: 30")
R(NT, {"x": [{"numeric": []}]}, P+"Invalid member in numeric match: ]")
R(NT, {"x": [{"numeric": [5, "<"]}]}, P+"Invalid member in numeric match: 5")
R(NT, {"x": [{"numeric": "<5"}]}, P+"Value of numeric must be an array.")
R("issue 16", {"x": [{"numeric": [">=", 5, "<=", 5]}]}, P+"Bottom must be less than top")
R("issue 16", {"x": [{"anything-but": [None]}]}, P+"Inside anything but list, start|null|boolean is not supported.")
R("issue 16", {"x": [{"anything-but": [True]}]}, P+"Inside anything but list, start|null|boolean is not supported.")
R("issue 16", {"x": [{"anything-but": {"exists": True}}]}, P+"Unsupported anything-but pattern: exists")
R("issue 16", {"x": [{"anything-but": {"numeric": [">", 5]}}]}, P+"Unsupported anything-but pattern: numeric")
R("issue 16", {"x": [{"anything-but": None}]}, P+"Value of anything-but must be an array or single string/number value.")
R("issue 16", {"x": [{"anything-but": []}]}, P+"Inside anything but list, either all values are number or string, mixed type is not supported")
R("issue 16", {"x": [{"prefix": "a", "regex": "x"}]}, P+"Only one key allowed in match expression")
R("event-ruler:JsonRuleCompiler#processExistsExpression", {"x": [{"exists": "yes"}]}, P+"exists match pattern must be either true or false.")
R("event-ruler:JsonRuleCompiler#processMatchExpression", {"x": [{}]}, P+"Match expression name not found")
R("event-ruler:JsonRuleCompiler#writeRules", {"x": [["a"]]}, P+"Match value must be String, number, true, false, or null")
R("event-ruler:JsonRuleCompiler#parseIntoOrRelationship", {"$or": {"a": ["x"]}}, P+"It must be an Array followed with $or.")
R("event-ruler:JsonRuleCompiler#parseIntoOrRelationship", {"$or": [{"a": ["x"]}]}, P+"There must have at least 2 Objects in $or relationship.")
R("event-ruler:JsonRuleCompiler#parseIntoOrRelationship", {"$or": [{"a": ["x"]}, ["b"]]}, P+"Only JSON object is allowed in array of $or relationship.")
R("event-ruler:JsonRuleCompiler#parseObjectInsideOrRelationship", {"$or": [{"a": ["x"]}, {"prefix": ["b"]}]}, P+"prefix is Ruler reserved fieldName which cannot be used inside $or.")
R("event-ruler:JsonRuleCompiler#parseObjectInsideOrRelationship", {"$or": [{"a": ["x"]}, {}]}, P+"Empty objects are not allowed")
R("localstack:test_dynamodb_invalid_event_filter[single-string]", "single-string", P+"invalid input syntax for type json")
R("localstack:test_dynamodb_invalid_event_filter[json]", '[{"eventName": ["INSERT"=123}]', P+"invalid input syntax for type json")

with open(sys.argv[2], "w") as out:
    out.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]\n")
n = sum(1 for c in cases if "match" in c); print(n, len(cases) - n)
