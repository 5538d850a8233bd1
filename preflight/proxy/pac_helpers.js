// The PAC helper functions (Netscape's PAC specification, as browsers and WinHTTP provide them), evaluated in the
// PAC worker before the script, inside a function that receives the bridge to the run (preflight/proxy/pacsandbox.py):
// name lookups and this host's address come from the run through __bridge("dnsResolve", host) and
// __bridge("myIpAddress"); everything else is plain JavaScript. The functions are exported to the script by name.
// Written for this project; tests/integration/test_pac_corpus.py checks them against pacparser's implementation.

function dnsResolve(host) {
    var answer = __bridge("dnsResolve", String(host));
    return answer === undefined ? null : answer;
}

function dnsResolveEx(host) {
    var answer = __bridge("dnsResolveEx", String(host));
    return answer === undefined || answer === null ? "" : answer;
}

function myIpAddress() {
    return __bridge("myIpAddress");
}

function myIpAddressEx() {
    return __bridge("myIpAddress");
}

function isResolvable(host) {
    return dnsResolve(host) !== null;
}

function isResolvableEx(host) {
    return dnsResolveEx(host) !== "";
}

function isPlainHostName(host) {
    return String(host).indexOf(".") === -1;
}

function dnsDomainIs(host, domain) {
    host = String(host);
    domain = String(domain);
    return host.length >= domain.length && host.substring(host.length - domain.length) === domain;
}

function localHostOrDomainIs(host, hostdom) {
    host = String(host);
    hostdom = String(hostdom);
    return host === hostdom || hostdom.lastIndexOf(host + ".", 0) === 0;
}

function dnsDomainLevels(host) {
    return String(host).split(".").length - 1;
}

function shExpMatch(str, pattern) {
    var source = String(pattern).replace(/[.+^${}()|[\]\\\/]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
    return new RegExp("^" + source + "$").test(String(str));
}

function __pacIpv4(text) {
    var parts = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(String(text));
    if (parts === null) {
        return null;
    }
    var value = 0;
    for (var i = 1; i <= 4; i++) {
        var part = parseInt(parts[i], 10);
        if (part > 255) {
            return null;
        }
        value = value * 256 + part;
    }
    return value;
}

function isInNet(host, pattern, mask) {
    var address = __pacIpv4(host);
    if (address === null) {
        var resolved = dnsResolve(host);
        if (resolved === null) {
            return false;
        }
        address = __pacIpv4(resolved);
        if (address === null) {
            return false;
        }
    }
    var net = __pacIpv4(pattern), bits = __pacIpv4(mask);
    if (net === null || bits === null) {
        return false;
    }
    // Unsigned 32-bit arithmetic without bit operators' sign: compare block by block.
    for (var shift = 3; shift >= 0; shift--) {
        var div = Math.pow(256, shift);
        var a = Math.floor(address / div) % 256, n = Math.floor(net / div) % 256, m = Math.floor(bits / div) % 256;
        if ((a & m) !== (n & m)) {
            return false;
        }
    }
    return true;
}

function isInNetEx(host, prefix) {
    var slash = String(prefix).indexOf("/");
    if (slash < 0) {
        return false;
    }
    var net = String(prefix).substring(0, slash), length = parseInt(String(prefix).substring(slash + 1), 10);
    if (__pacIpv4(net) === null || isNaN(length) || length < 0 || length > 32) {
        return false;  // IPv6 prefixes: not decided here
    }
    var mask = [];
    for (var i = 0; i < 4; i++) {
        var bits = Math.max(0, Math.min(8, length - 8 * i));
        mask.push(256 - Math.pow(2, 8 - bits));
    }
    return isInNet(host, net, mask.join("."));
}

function sortIpAddressList(list) {
    return String(list).split(";").sort().join(";");
}

function getClientVersion() {
    return "1.0";
}

var __pacDays = {SUN: 0, MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5, SAT: 6};
var __pacMonths = {JAN: 0, FEB: 1, MAR: 2, APR: 3, MAY: 4, JUN: 5, JUL: 6, AUG: 7, SEP: 8, OCT: 9, NOV: 10, DEC: 11};

function __pacArgs(values) {
    var args = Array.prototype.slice.call(values);
    var gmt = args.length > 0 && args[args.length - 1] === "GMT";
    if (gmt) {
        args.pop();
    }
    return {args: args, gmt: gmt, now: new Date()};
}

function __pacInRange(low, value, high) {
    return low <= high ? low <= value && value <= high : value >= low || value <= high;
}

function weekdayRange() {
    var call = __pacArgs(arguments);
    if (call.args.length < 1 || call.args.length > 2) {
        return false;
    }
    var first = __pacDays[call.args[0]], last = call.args.length === 2 ? __pacDays[call.args[1]] : first;
    if (first === undefined || last === undefined) {
        return false;
    }
    return __pacInRange(first, call.gmt ? call.now.getUTCDay() : call.now.getDay(), last);
}

function dateRange() {
    var call = __pacArgs(arguments), args = call.args, now = call.now;
    var today = {
        day: call.gmt ? now.getUTCDate() : now.getDate(),
        month: call.gmt ? now.getUTCMonth() : now.getMonth(),
        year: call.gmt ? now.getUTCFullYear() : now.getFullYear()
    };
    function kind(value) {
        if (typeof value === "string" && __pacMonths[value] !== undefined) {
            return "month";
        }
        var number = parseInt(value, 10);
        if (isNaN(number)) {
            return null;
        }
        return number < 32 ? "day" : "year";
    }
    function value(item) {
        return kind(item) === "month" ? __pacMonths[item] : parseInt(item, 10);
    }
    if (args.length === 0 || args.length > 6) {
        return false;
    }
    if (args.length === 1) {
        var only = kind(args[0]);
        return only !== null && today[only] === value(args[0]);
    }
    if (args.length % 2 !== 0) {
        return false;
    }
    var half = args.length / 2, fields = [];
    for (var i = 0; i < half; i++) {
        var field = kind(args[i]);
        if (field === null || field !== kind(args[i + half])) {
            return false;
        }
        fields.push(field);
    }
    // Compare (year, month, day) tuples over the fields given, most significant first.
    var order = ["year", "month", "day"], low = [], high = [], current = [];
    for (var k = 0; k < order.length; k++) {
        var position = fields.indexOf(order[k]);
        if (position >= 0) {
            low.push(value(args[position]));
            high.push(value(args[position + half]));
            current.push(today[order[k]]);
        }
    }
    function compare(a, b) {
        for (var j = 0; j < a.length; j++) {
            if (a[j] !== b[j]) {
                return a[j] < b[j] ? -1 : 1;
            }
        }
        return 0;
    }
    if (compare(low, high) <= 0) {
        return compare(low, current) <= 0 && compare(current, high) <= 0;
    }
    return compare(current, low) >= 0 || compare(current, high) <= 0;
}

function timeRange() {
    var call = __pacArgs(arguments), args = call.args, now = call.now;
    var seconds = (call.gmt ? now.getUTCHours() : now.getHours()) * 3600 +
        (call.gmt ? now.getUTCMinutes() : now.getMinutes()) * 60 + (call.gmt ? now.getUTCSeconds() : now.getSeconds());
    var n = [];
    for (var i = 0; i < args.length; i++) {
        n.push(parseInt(args[i], 10));
    }
    if (n.length === 1) {
        return Math.floor(seconds / 3600) === n[0];
    }
    if (n.length === 2) {
        return n[0] <= Math.floor(seconds / 3600) && Math.floor(seconds / 3600) <= n[1];
    }
    var low, high;
    if (n.length === 4) {
        low = n[0] * 3600 + n[1] * 60;
        high = n[2] * 3600 + n[3] * 60 + 59;
    } else if (n.length === 6) {
        low = n[0] * 3600 + n[1] * 60 + n[2];
        high = n[3] * 3600 + n[4] * 60 + n[5];
    } else {
        return false;
    }
    return __pacInRange(low, seconds, high);
}

function alert(message) {
    __bridge("alert", String(message));
}
