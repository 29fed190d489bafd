using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace Crt.Tensors.IO.Torch;

/// <summary>
/// What a pickle may do beyond building plain data, decided by the caller. The machine asks before it
/// accepts any global and hands every call (REDUCE, NEWOBJ), persistent id and BUILD to these hooks;
/// a hook either returns a plain value or throws. Nothing is ever executed: a "call" is the hook
/// recognising a known constructor by name and building data from its arguments.
/// </summary>
internal interface IPickleHooks
{
    /// <summary>GLOBAL / STACK_GLOBAL: return a marker for an allowed global, or throw naming it.</summary>
    object Global(string module, string name);
    /// <summary>REDUCE / NEWOBJ of <paramref name="callable"/> (a value <see cref="Global"/> returned) with a tuple of arguments.</summary>
    object? Call(object callable, object?[] args);
    /// <summary>BINPERSID / PERSID: what the persistent id refers to.</summary>
    object? PersistentLoad(object? id);
    /// <summary>BUILD: set <paramref name="state"/> on <paramref name="target"/>, or throw.</summary>
    void Build(object? target, object? state);
}

/// <summary>
/// A restricted unpickler: an interpreter of Python's pickle opcodes (protocols 0–5, the data-building
/// subset) over a byte array, with no access to Python, reflection or anything it could run. Lengths
/// are checked against what is left before anything is allocated; an unknown or code-running opcode
/// (INST, OBJ, EXT*, out-of-band buffers) is refused. Errors name the source and the byte offset.
/// </summary>
internal sealed class PickleMachine
{
    private readonly byte[] _data;
    private readonly string _source;
    private readonly IPickleHooks _hooks;
    private int _pos;
    private List<object?> _stack = new();
    private readonly Stack<List<object?>> _marks = new();
    private readonly Dictionary<long, object?> _memo = new();

    private PickleMachine(byte[] data, string source, IPickleHooks hooks) { _data = data; _source = source; _hooks = hooks; }

    /// <summary>Runs the pickle in <paramref name="data"/> to its STOP and returns the object it built.</summary>
    public static object? Load(byte[] data, string source, IPickleHooks hooks) => new PickleMachine(data, source, hooks).Run();

    private InvalidDataException Bad(string what) => new($"{_source}: {what} (pickle byte {_pos})");

    private object? Run()
    {
        while (true)
        {
            int at = _pos;
            byte op = U8();
            switch (op)
            {
                case 0x80: // PROTO
                    int proto = U8();
                    if (proto > 5) throw Bad($"pickle protocol {proto} is newer than crt reads (≤ 5)");
                    break;
                case 0x95: Take(8); break; // FRAME: a length hint; the frame's opcodes follow inline
                case (byte)'.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Bad("pickle ends with an unbalanced stack; the data is damaged");
                    return _stack[0];

                case (byte)'(': _marks.Push(_stack); _stack = new List<object?>(); break; // MARK
                case (byte)'0': if (_stack.Count > 0) Pop(); else PopMark(); break;      // POP
                case (byte)'1': PopMark(); break;                                         // POP_MARK
                case (byte)'2': Push(Peek()); break;                                      // DUP

                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;   // BININT
                case (byte)'K': Push((long)U8()); break;                                            // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case 0x8a: Push(Long(Take(U8()))); break;                                           // LONG1
                case 0x8b: Push(Long(Take(Length(4)))); break;                                      // LONG4
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break;         // BINFLOAT
                case (byte)'I': Push(TextInt(Line())); break;                                       // INT (protocol 0)
                case (byte)'L': Push(TextLong(Line())); break;                                      // LONG (protocol 0)
                case (byte)'F': Push(TextFloat(Line())); break;                                     // FLOAT (protocol 0)

                case (byte)'X': Push(Utf8(Take(Length(4)))); break;  // BINUNICODE
                case 0x8c: Push(Utf8(Take(U8()))); break;            // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(Take(Length(8)))); break;       // BINUNICODE8
                case (byte)'T': Push(Latin1(Take(Length(4)))); break; // BINSTRING (Python 2 str)
                case (byte)'U': Push(Latin1(Take(U8()))); break;      // SHORT_BINSTRING
                case (byte)'B': Push(Take(Length(4)).ToArray()); break; // BINBYTES
                case (byte)'C': Push(Take(U8()).ToArray()); break;      // SHORT_BINBYTES
                case 0x8e or 0x96: Push(Take(Length(8)).ToArray()); break; // BINBYTES8, BYTEARRAY8

                case (byte)']': Push(new List<object?>()); break;                 // EMPTY_LIST
                case (byte)'l': Push(PopMark()); break;                           // LIST
                case (byte)'a': { var v = Pop(); AsList(Peek(), "APPEND").Add(v); break; }
                case (byte)'e': { var items = PopMark(); AsList(Peek(), "APPENDS").AddRange(items); break; }
                case (byte)')': Push(Array.Empty<object?>()); break;              // EMPTY_TUPLE
                case (byte)'t': Push(PopMark().ToArray()); break;                 // TUPLE
                case 0x85: Push(new[] { Pop() }); break;                          // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
                case (byte)'}': Push(new PickleDict()); break;                    // EMPTY_DICT
                case (byte)'d': { var d = new PickleDict(); SetItems(d, PopMark()); Push(d); break; } // DICT
                case (byte)'s': { var v = Pop(); var k = Pop(); AsDict(Peek(), "SETITEM").Set(Key(k), v); break; }
                case (byte)'u': { var items = PopMark(); SetItems(AsDict(Peek(), "SETITEMS"), items); break; }
                case 0x8f: Push(new PickleSet(new List<object?>())); break;       // EMPTY_SET
                case 0x90: { var items = PopMark(); AsSet(Peek()).Items.AddRange(items); break; } // ADDITEMS
                case 0x91: Push(new PickleSet(PopMark())); break;                 // FROZENSET

                case (byte)'h': Push(Get(U8())); break;                                                  // BINGET
                case (byte)'j': Push(Get(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;      // LONG_BINGET
                case (byte)'g': Push(Get(TextIndex(Line()))); break;                                     // GET
                case (byte)'q': _memo[U8()] = Peek(); break;                                             // BINPUT
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Peek(); break; // LONG_BINPUT
                case (byte)'p': _memo[TextIndex(Line())] = Peek(); break;                                // PUT
                case 0x94: _memo[_memo.Count] = Peek(); break;                                           // MEMOIZE

                case (byte)'c': // GLOBAL "module\nname\n"
                {
                    string module = Line(), name = Line();
                    Push(_hooks.Global(module, name));
                    break;
                }
                case 0x93: // STACK_GLOBAL
                {
                    var name = Pop() as string ?? throw Bad("STACK_GLOBAL without a name string");
                    var module = Pop() as string ?? throw Bad("STACK_GLOBAL without a module string");
                    Push(_hooks.Global(module, name));
                    break;
                }
                case (byte)'R': // REDUCE: callable(*args)
                {
                    var args = Pop() as object?[] ?? throw Bad("REDUCE whose arguments are not a tuple");
                    var callable = Pop() ?? throw Bad("REDUCE of None");
                    Push(_hooks.Call(callable, args));
                    break;
                }
                case 0x81: // NEWOBJ: cls.__new__(cls, *args)
                {
                    var args = Pop() as object?[] ?? throw Bad("NEWOBJ whose arguments are not a tuple");
                    var cls = Pop() ?? throw Bad("NEWOBJ of None");
                    Push(_hooks.Call(cls, args));
                    break;
                }
                case 0x92: // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
                {
                    var kwargs = Pop() as PickleDict ?? throw Bad("NEWOBJ_EX whose keyword arguments are not a dict");
                    var args = Pop() as object?[] ?? throw Bad("NEWOBJ_EX whose arguments are not a tuple");
                    var cls = Pop() ?? throw Bad("NEWOBJ_EX of None");
                    if (kwargs.Count != 0) throw Bad($"NEWOBJ_EX of {cls} with keyword arguments, which no checkpoint object crt reads needs");
                    Push(_hooks.Call(cls, args));
                    break;
                }
                case (byte)'b': { var state = Pop(); _hooks.Build(Peek(), state); break; } // BUILD
                case (byte)'Q': Push(_hooks.PersistentLoad(Pop())); break;                // BINPERSID
                case (byte)'P': Push(_hooks.PersistentLoad(Line())); break;               // PERSID

                case (byte)'i': throw Bad("INST opcode (creates an instance of a named class): refused; crt never runs code from a checkpoint");
                case (byte)'o': throw Bad("OBJ opcode (calls a class): refused; crt never runs code from a checkpoint");
                case 0x82 or 0x83 or 0x84: throw Bad("EXT opcode (a registered extension code): refused");
                case 0x97 or 0x98: throw Bad("out-of-band buffer opcode: refused (torch.save never writes one)");
                default: throw new InvalidDataException($"{_source}: unknown pickle opcode 0x{op:x2} at byte {at}; the data is damaged or not a pickle crt reads");
            }
        }
    }

    // ---- the stack -----------------------------------------------------------------------------------

    private void Push(object? v) => _stack.Add(v);

    private object? Pop()
    {
        if (_stack.Count == 0) throw Bad("pickle pops an empty stack; the data is damaged");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object? Peek() => _stack.Count > 0 ? _stack[^1] : throw Bad("pickle reads an empty stack; the data is damaged");

    /// <summary>The items pushed since the last MARK; the stack below the mark becomes current again.</summary>
    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Bad("pickle closes a MARK it never opened; the data is damaged");
        var items = _stack;
        _stack = _marks.Pop();
        return items;
    }

    private object? Get(long index) => _memo.TryGetValue(index, out var v) ? v : throw Bad($"pickle refers to memo entry {index}, which was never stored; the data is damaged");

    private List<object?> AsList(object? target, string op) => target as List<object?> ?? throw Bad($"{op} on {Describe(target)}, not a list");
    private PickleDict AsDict(object? target, string op) => target as PickleDict ?? throw Bad($"{op} on {Describe(target)}, not a dict");
    private PickleSet AsSet(object? target) => target as PickleSet ?? throw Bad($"ADDITEMS on {Describe(target)}, not a set");

    private void SetItems(PickleDict d, List<object?> items)
    {
        if (items.Count % 2 != 0) throw Bad("a dict built from an odd number of items; the data is damaged");
        for (int i = 0; i < items.Count; i += 2) d.Set(Key(items[i]), items[i + 1]);
    }

    private object? Key(object? k, int depth = 0)
    {
        if (k is object?[] tuple)
        {
            // Tuples are hashed recursively; a checkpoint's keys are never deeply nested.
            if (depth > 8) throw Bad("a dict key of tuples nested more than 8 deep");
            foreach (var e in tuple) Key(e, depth + 1);
            return k;
        }
        return k is null or string or long or bool or double or BigInteger or byte[] ? k
            : throw Bad($"a dict key of type {Describe(k)}, which no checkpoint crt reads uses");
    }

    internal static string Describe(object? v) => v switch
    {
        null => "None", PickleGlobal g => g.ToString(), PickleObject o => $"a {o.Type} object", _ => v.GetType().Name,
    };

    // ---- reading bytes -----------------------------------------------------------------------------

    private byte U8()
    {
        if (_pos >= _data.Length) throw Bad("pickle ends before its STOP opcode; the data is truncated");
        return _data[_pos++];
    }

    private ReadOnlySpan<byte> Take(long n)
    {
        if (n < 0 || n > _data.Length - _pos) throw Bad($"pickle wants {n} bytes where {_data.Length - _pos} are left; the data is truncated or damaged");
        var s = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    private long Length(int bytes)
    {
        var s = Take(bytes);
        ulong n = bytes == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(s) : BinaryPrimitives.ReadUInt64LittleEndian(s);
        return n > (ulong)(_data.Length - _pos) ? throw Bad($"a length of {n} bytes where {_data.Length - _pos} are left; the data is truncated or damaged") : (long)n;
    }

    private string Line()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0) throw Bad("pickle text line without its newline; the data is truncated");
        var s = Encoding.UTF8.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private static object Long(ReadOnlySpan<byte> le)
    {
        if (le.Length == 0) return 0L;
        if (le.Length <= 8)
        {
            long v = 0;
            for (int i = le.Length - 1; i >= 0; i--) v = (v << 8) | le[i];
            int shift = 64 - 8 * le.Length; // sign-extend from the top byte written
            return shift == 0 ? v : (v << shift) >> shift;
        }
        var big = new BigInteger(le, isUnsigned: false, isBigEndian: false);
        return big >= long.MinValue && big <= long.MaxValue ? (long)big : big;
    }

    private object TextInt(string s) => s switch
    {
        "01" => true, "00" => false,
        _ => long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : throw Bad($"INT '{s}' is not an integer"),
    };

    private object TextLong(string s)
    {
        var t = s.EndsWith('L') ? s[..^1] : s;
        return BigInteger.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
            ? v >= long.MinValue && v <= long.MaxValue ? (long)v : v
            : throw Bad($"LONG '{s}' is not an integer");
    }

    private double TextFloat(string s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw Bad($"FLOAT '{s}' is not a number");

    private long TextIndex(string s) =>
        long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw Bad($"memo index '{s}' is not a number");

    private string Utf8(ReadOnlySpan<byte> b)
    {
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(b); }
        catch (DecoderFallbackException) { throw Bad("a string that is not valid UTF-8; the data is damaged"); }
    }

    private static string Latin1(ReadOnlySpan<byte> b) => Encoding.Latin1.GetString(b);
}
