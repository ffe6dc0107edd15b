/* The hot loop of `by_class` (crediting by class), in C.
 *
 * It does exactly what the Python loop of `by_class._loop_source` does, statement for
 * statement, with the same objects and in the same order: the same key per transaction, the
 * same cache of classified keys, the same Decimal multiplications in the caller's decimal
 * context, the same appends, the same callbacks (classify, fail, fail_fx, split) and the same
 * exceptions. `tests/domain/engine/test_by_class.py` runs every case through both loops and
 * compares what they leave behind. The module is optional: when it is not built, `by_class`
 * runs the Python loop.
 *
 * What it saves is the interpreter's work per transaction (about 30% of the loop's time at a
 * million transactions): the key's fields are read by C calls, the slots of an exact
 * `Transaction` are read at their offsets, and list appends skip the bound-method call.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* The Transaction attributes the loop reads, in this order. */
enum { A_FIELDS, A_DATE, A_CURRENCY, A_AMOUNT, A_SOLE, A_REP_ID, A_CREDITS, A_ID, N_ATTRS };
static const char *attr_names[N_ATTRS] = {
    "fields", "date", "currency", "amount", "sole_credit", "rep_id", "credits", "id"};
static PyObject *attr_strs[N_ATTRS];
static PyObject *str_get;

typedef struct {
    PyTypeObject *type;         /* the exact type whose slots are read at their offsets */
    Py_ssize_t offset[N_ATTRS]; /* -1: read by getattr */
} Slots;

/* t.<attr>, a new reference (NULL with the exception set). */
static inline PyObject *
get_attr(const Slots *slots, PyObject *t, int which)
{
    if (Py_TYPE(t) == slots->type && slots->offset[which] >= 0) {
        PyObject *v = *(PyObject **)((char *)t + slots->offset[which]);
        if (v != NULL) {
            Py_INCREF(v);
            return v;
        }
    }
    return PyObject_GetAttr(t, attr_strs[which]);
}

/* The slot offsets of ``type``'s attributes. 0, or -1 with the exception set. */
static int
find_slots(Slots *slots, PyObject *type)
{
    slots->type = NULL;
    for (int i = 0; i < N_ATTRS; i++)
        slots->offset[i] = -1;
    if (!PyType_Check(type))
        return 0;
    PyTypeObject *tp = (PyTypeObject *)type;
    /* Only for a type with the generic getattr (no __getattribute__ or __getattr__ of its
       own) and a plain metatype: then an instance's attribute is found by the type's data
       descriptor first, which is read here at its offset. */
    if (tp->tp_getattro != PyObject_GenericGetAttr || Py_TYPE(type) != &PyType_Type)
        return 0;
    slots->type = tp;
    for (int i = 0; i < N_ATTRS; i++) {
        /* On a type, a slot's member descriptor is the attribute itself. */
        PyObject *descr = PyObject_GetAttr(type, attr_strs[i]);
        if (descr == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError))
                return -1;
            PyErr_Clear();
            continue;
        }
        if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            PyMemberDef *def = ((PyMemberDescrObject *)descr)->d_member;
            if (def->type == T_OBJECT_EX && !(def->flags & READ_RESTRICTED))
                slots->offset[i] = def->offset;
        }
        Py_DECREF(descr);
    }
    return 0;
}

typedef struct {
    const Slots *slots;
    PyObject *one;
    PyObject *line_type;
    PyObject *empty;       /* "" */
    PyObject *digits;      /* "0123456789" */
    int in_order;
    PyObject *last_key;    /* owned */
    PyObject *list_append; /* the method list.append, to recognise bound appends */
} State;

/* A bound `list.append`'s list, or NULL. */
static inline PyObject *
appended_list(State *st, PyObject *add)
{
    if (PyCFunction_Check(add)) {
        PyObject *self = PyCFunction_GET_SELF(add);
        PyMethodDef *append = ((PyMethodDescrObject *)st->list_append)->d_method;
        if (self != NULL && PyList_CheckExact(self) && ((PyCFunctionObject *)add)->m_ml == append)
            return self;
    }
    return NULL;
}

/* add(x), by PyList_Append when add is a bound list.append: 0, or -1 with the exception
   set. */
static inline int
add_to(State *st, PyObject *add, PyObject *x)
{
    PyObject *list = appended_list(st, add);
    if (list != NULL)
        return PyList_Append(list, x);
    PyObject *r = PyObject_CallOneArg(add, x);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* The _CREDIT block of the Python loop for one credit of all of t's value to rep_id. */
static int
credit_one(State *st, PyObject *t, PyObject *rep_id, PyObject *amount, PyObject *add_amount,
           PyObject *add_rep, PyObject *lines, PyObject *payable)
{
    if (add_to(st, add_amount, amount) < 0 || add_to(st, add_rep, rep_id) < 0)
        return -1;
    if (lines == Py_None)
        return 0;
    int rc = -1;
    PyObject *tid = get_attr(st->slots, t, A_ID);
    PyObject *iter = NULL, *spec = NULL;
    if (tid == NULL)
        return -1;
    if (st->in_order) {
        /* stem = tid.rstrip(DIGITS); line_key = (stem, len(tid) - len(stem), tid) */
        PyObject *stem = PyObject_CallMethod(tid, "rstrip", "O", st->digits);
        if (stem == NULL)
            goto done;
        Py_ssize_t n_tid = PyObject_Length(tid), n_stem = PyObject_Length(stem);
        if (n_tid < 0 || n_stem < 0) {
            Py_DECREF(stem);
            goto done;
        }
        PyObject *n = PyLong_FromSsize_t(n_tid - n_stem);
        if (n == NULL) {
            Py_DECREF(stem);
            goto done;
        }
        PyObject *line_key = PyTuple_Pack(3, stem, n, tid);
        Py_DECREF(stem);
        Py_DECREF(n);
        if (line_key == NULL)
            goto done;
        int gt = PyObject_RichCompareBool(line_key, st->last_key, Py_GT);
        if (gt < 0) {
            Py_DECREF(line_key);
            goto done;
        }
        if (gt)
            Py_SETREF(st->last_key, line_key);
        else {
            Py_DECREF(line_key);
            st->in_order = 0;
        }
    }
    iter = PyObject_GetIter(lines);
    if (iter == NULL)
        goto done;
    while ((spec = PyIter_Next(iter)) != NULL) {
        /* add_made, add_made_rep, add_made_at, cid, line_rate, counted = spec */
        if (!PyTuple_CheckExact(spec) || PyTuple_GET_SIZE(spec) != 6) {
            PyErr_SetString(PyExc_ValueError, "a line spec must be a tuple of 6");
            goto done;
        }
        PyObject *cid = PyTuple_GET_ITEM(spec, 3), *line_rate = PyTuple_GET_ITEM(spec, 4);
        int counted = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 5));
        if (counted < 0)
            goto done;
        PyObject *value = counted ? st->one : amount;
        PyObject *line_amount = PyNumber_Multiply(value, line_rate);
        if (line_amount == NULL)
            goto done;
        PyObject *fields = PyTuple_Pack(8, cid, tid, st->empty, value, line_rate, line_amount,
                                        st->empty, payable);
        Py_DECREF(line_amount);
        if (fields == NULL)
            goto done;
        /* new_tuple(Line, line): tuple.__new__(Line, fields) */
        PyObject *args = PyTuple_Pack(1, fields);
        Py_DECREF(fields);
        if (args == NULL)
            goto done;
        PyObject *line = PyTuple_Type.tp_new((PyTypeObject *)st->line_type, args, NULL);
        Py_DECREF(args);
        if (line == NULL)
            goto done;
        int failed = add_to(st, PyTuple_GET_ITEM(spec, 0), line) < 0;
        Py_DECREF(line);
        if (failed || add_to(st, PyTuple_GET_ITEM(spec, 1), rep_id) < 0
            || add_to(st, PyTuple_GET_ITEM(spec, 2), t) < 0)
            goto done;
        Py_CLEAR(spec);
    }
    if (!PyErr_Occurred())
        rc = 0;
done:
    Py_XDECREF(spec);
    Py_XDECREF(iter);
    Py_DECREF(tid);
    return rc;
}

/* The key of t: (t.date, t.currency, fields[name0], ...), or with fields.get(name) for every
   name when one is missing (KeyError). A new reference, or NULL with the exception set. */
static PyObject *
make_key(const Slots *slots, PyObject *t, PyObject *fields, PyObject *names)
{
    Py_ssize_t nn = PyTuple_GET_SIZE(names);
    PyObject *key = PyTuple_New(2 + nn);
    if (key == NULL)
        return NULL;
    PyObject *d = get_attr(slots, t, A_DATE);
    if (d == NULL)
        goto fail;
    PyTuple_SET_ITEM(key, 0, d);
    PyObject *c = get_attr(slots, t, A_CURRENCY);
    if (c == NULL)
        goto fail;
    PyTuple_SET_ITEM(key, 1, c);
    int missing = 0;
    for (Py_ssize_t j = 0; j < nn; j++) {
        PyObject *v;
        if (PyDict_CheckExact(fields)) {
            v = PyDict_GetItemWithError(fields, PyTuple_GET_ITEM(names, j));
            if (v == NULL) {
                if (PyErr_Occurred())
                    goto fail;
                missing = 1;
                break;
            }
            Py_INCREF(v);
        }
        else {
            v = PyObject_GetItem(fields, PyTuple_GET_ITEM(names, j));
            if (v == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_KeyError))
                    goto fail;
                PyErr_Clear();
                missing = 1;
                break;
            }
        }
        PyTuple_SET_ITEM(key, 2 + j, v);
    }
    if (!missing)
        return key;
    /* except KeyError: key = (t.date, t.currency, fields.get(name0), ...) */
    Py_DECREF(key);
    key = PyTuple_New(2 + nn);
    if (key == NULL)
        return NULL;
    d = get_attr(slots, t, A_DATE);
    if (d == NULL)
        goto fail;
    PyTuple_SET_ITEM(key, 0, d);
    c = get_attr(slots, t, A_CURRENCY);
    if (c == NULL)
        goto fail;
    PyTuple_SET_ITEM(key, 1, c);
    for (Py_ssize_t j = 0; j < nn; j++) {
        PyObject *v = PyObject_CallMethodOneArg(fields, str_get, PyTuple_GET_ITEM(names, j));
        if (v == NULL)
            goto fail;
        PyTuple_SET_ITEM(key, 2 + j, v);
    }
    return key;
fail:
    Py_DECREF(key);
    return NULL;
}

PyDoc_STRVAR(credit_doc,
"credit(transactions, names, classify, fail, fail_fx, split, failures, skip, no_rate, one,\n"
"       line_type, transaction_type, cache_limit) -> in_order\n\n"
"The Python loop of by_class._loop_source, run in C (see the module source).");

static PyObject *
credit(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 13) {
        PyErr_SetString(PyExc_TypeError, "credit() takes 13 arguments");
        return NULL;
    }
    PyObject *transactions = args[0], *names = args[1], *classify = args[2], *fail = args[3];
    PyObject *fail_fx = args[4], *split = args[5], *failures = args[6], *skip = args[7];
    PyObject *no_rate = args[8], *one = args[9], *line_type = args[10];
    if (!PyTuple_Check(names)) {
        PyErr_SetString(PyExc_TypeError, "names must be a tuple");
        return NULL;
    }
    if (!PyType_Check(line_type) || !PyType_IsSubtype((PyTypeObject *)line_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "line_type must be a tuple type");
        return NULL;
    }
    Py_ssize_t cache_limit = PyLong_AsSsize_t(args[12]);
    if (cache_limit == -1 && PyErr_Occurred())
        return NULL;
    Slots slots;
    if (find_slots(&slots, args[11]) < 0)
        return NULL;

    State st = {&slots, one, line_type, NULL, NULL, 1, NULL, NULL};
    PyObject *seq = NULL, *cache = NULL, *result = NULL;
    st.empty = PyUnicode_FromString("");
    st.digits = PyUnicode_FromString("0123456789");
    st.last_key = PyTuple_New(0);
    st.list_append = PyObject_GetAttrString((PyObject *)&PyList_Type, "append");
    cache = PyDict_New();
    if (!st.empty || !st.digits || !st.last_key || !st.list_append || !cache)
        goto done;
    if (!Py_IS_TYPE(st.list_append, &PyMethodDescr_Type)) {
        PyErr_SetString(PyExc_SystemError, "list.append is not a method descriptor");
        goto done;
    }
    seq = PySequence_Fast(transactions, "transactions must be iterable");
    if (seq == NULL)
        goto done;

    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        /* a list may change size under a callback: read it as the Python loop would */
        if (i >= PySequence_Fast_GET_SIZE(seq))
            break;
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        Py_INCREF(t);
        PyObject *fields = NULL, *key = NULL, *entry = NULL, *amount = NULL, *amt = NULL;
        PyObject *sole = NULL, *rep_id = NULL, *credits = NULL, *it = NULL, *pair = NULL;
        int ok = 0;

        fields = get_attr(&slots, t, A_FIELDS);
        if (fields == NULL)
            goto next;
        key = make_key(&slots, t, fields, names);
        if (key == NULL)
            goto next;
        entry = PyDict_GetItemWithError(cache, key);
        if (entry != NULL)
            Py_INCREF(entry);
        else if (PyErr_Occurred()) {
            if (PyErr_ExceptionMatches(PyExc_KeyError))
                PyErr_Clear();
            else if (PyErr_ExceptionMatches(PyExc_TypeError)) {
                /* an unhashable field value: classify without caching */
                PyErr_Clear();
                Py_CLEAR(key);
            }
            else
                goto next;
        }
        if (entry == NULL) {
            entry = PyObject_CallOneArg(classify, t);
            if (entry == NULL) {
                if (!PyErr_ExceptionMatches(failures))
                    goto next;
                PyObject *type, *value, *tb;
                PyErr_Fetch(&type, &value, &tb);
                PyErr_NormalizeException(&type, &value, &tb);
                if (tb != NULL)
                    PyException_SetTraceback(value, tb);
                PyObject *r = PyObject_CallFunctionObjArgs(fail, t, fields, value, NULL);
                Py_XDECREF(type);
                Py_XDECREF(value);
                Py_XDECREF(tb);
                if (r == NULL)
                    goto next;
                Py_DECREF(r);
                ok = 1; /* continue */
                goto next;
            }
            if (key != NULL && PyDict_GET_SIZE(cache) < cache_limit) {
                if (PyDict_SetItem(cache, key, entry) < 0)
                    goto next;
            }
        }
        if (entry == skip) {
            ok = 1;
            goto next;
        }
        if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 6) {
            PyErr_SetString(PyExc_ValueError, "a class entry must be a tuple of 6");
            goto next;
        }
        PyObject *rate = PyTuple_GET_ITEM(entry, 0), *add_amount = PyTuple_GET_ITEM(entry, 1);
        PyObject *add_rep = PyTuple_GET_ITEM(entry, 2), *lines = PyTuple_GET_ITEM(entry, 3);
        PyObject *payable = PyTuple_GET_ITEM(entry, 4), *cls = PyTuple_GET_ITEM(entry, 5);
        if (rate == no_rate) {
            PyObject *r = PyObject_CallOneArg(fail_fx, t);
            if (r == NULL)
                goto next;
            Py_DECREF(r);
            ok = 1;
            goto next;
        }
        amt = get_attr(&slots, t, A_AMOUNT);
        if (amt == NULL)
            goto next;
        amount = PyNumber_Multiply(amt, rate);
        if (amount == NULL)
            goto next;
        sole = get_attr(&slots, t, A_SOLE);
        if (sole == NULL)
            goto next;
        int is_sole = sole == Py_True ? 1 : sole == Py_False ? 0 : PyObject_IsTrue(sole);
        if (is_sole < 0)
            goto next;
        if (is_sole) {
            rep_id = get_attr(&slots, t, A_REP_ID);
            if (rep_id == NULL
                || credit_one(&st, t, rep_id, amount, add_amount, add_rep, lines, payable) < 0)
                goto next;
            ok = 1;
            goto next;
        }
        credits = get_attr(&slots, t, A_CREDITS);
        if (credits == NULL)
            goto next;
        it = PyObject_GetIter(credits);
        if (it == NULL)
            goto next;
        while ((pair = PyIter_Next(it)) != NULL) {
            /* rep_id, share = pair */
            PyObject *unpacked = PySequence_Tuple(pair);
            if (unpacked == NULL)
                goto next;
            if (PyTuple_GET_SIZE(unpacked) != 2) { /* as Python 3.11 words it */
                if (PyTuple_GET_SIZE(unpacked) < 2)
                    PyErr_Format(PyExc_ValueError,
                                 "not enough values to unpack (expected 2, got %zd)",
                                 PyTuple_GET_SIZE(unpacked));
                else
                    PyErr_SetString(PyExc_ValueError, "too many values to unpack (expected 2)");
                Py_DECREF(unpacked);
                goto next;
            }
            PyObject *who = PyTuple_GET_ITEM(unpacked, 0), *share = PyTuple_GET_ITEM(unpacked, 1);
            int failed;
            if (share == one)
                failed = credit_one(&st, t, who, amount, add_amount, add_rep, lines, payable) < 0;
            else {
                PyObject *r = PyObject_CallFunctionObjArgs(split, cls, t, who, share, amount,
                                                           NULL);
                failed = r == NULL;
                Py_XDECREF(r);
            }
            Py_DECREF(unpacked);
            if (failed)
                goto next;
            Py_CLEAR(pair);
        }
        if (!PyErr_Occurred())
            ok = 1;
    next:
        Py_XDECREF(pair);
        Py_XDECREF(it);
        Py_XDECREF(credits);
        Py_XDECREF(rep_id);
        Py_XDECREF(sole);
        Py_XDECREF(amount);
        Py_XDECREF(amt);
        Py_XDECREF(entry);
        Py_XDECREF(key);
        Py_XDECREF(fields);
        Py_DECREF(t);
        if (!ok)
            goto done;
    }
    result = PyBool_FromLong(st.in_order);
done:
    Py_XDECREF(seq);
    Py_XDECREF(cache);
    Py_XDECREF(st.empty);
    Py_XDECREF(st.digits);
    Py_XDECREF(st.last_key);
    Py_XDECREF(st.list_append);
    return result;
}

PyDoc_STRVAR(columns_doc,
"columns(positions, reps, amounts, start) -> (sums, counts)\n\n"
"Per key of ``positions`` (key -> its position, 0..n-1): the sum start + each amount of zip(reps,\n"
"amounts) credited to it, added in order, and their number; as lists in the order of the\n"
"positions. A rep that has no position is added up all the same (an addition may trap) but\n"
"not returned. What by_class._Sums.columns does by C-level maps when this is not built.");

static PyObject *
columns(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "columns() takes 4 arguments");
        return NULL;
    }
    PyObject *positions = args[0], *reps = args[1], *amounts = args[2], *start = args[3];
    if (!PyDict_CheckExact(positions) || !PyList_CheckExact(reps) || !PyList_CheckExact(amounts)) {
        PyErr_SetString(PyExc_TypeError, "columns() takes a dict and two lists");
        return NULL;
    }
    if (PyList_GET_SIZE(reps) != PyList_GET_SIZE(amounts)) {
        PyErr_SetString(PyExc_ValueError, "columns(): reps and amounts differ in length");
        return NULL;
    }
    Py_ssize_t n = PyDict_GET_SIZE(positions);
    PyObject *sums = PyList_New(n), *counts = NULL, *others = NULL, *result = NULL;
    Py_ssize_t *numbers = NULL;
    if (sums == NULL)
        return NULL;
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_INCREF(start);
        PyList_SET_ITEM(sums, k, start);
    }
    numbers = PyMem_Calloc(n > 0 ? (size_t)n : 1, sizeof(Py_ssize_t));
    others = PyDict_New(); /* the sums of reps without a position */
    if (numbers == NULL || others == NULL) {
        if (numbers == NULL)
            PyErr_NoMemory();
        goto done;
    }
    /* Decimal additions call no Python code, so the lists cannot change under the loop; their
       lengths are read again each time all the same. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(reps) && i < PyList_GET_SIZE(amounts); i++) {
        PyObject *rep = PyList_GET_ITEM(reps, i);
        Py_INCREF(rep);
        PyObject *at = PyDict_GetItemWithError(positions, rep);
        Py_ssize_t k = -1;
        if (at != NULL) {
            k = PyLong_AsSsize_t(at);
            if (k == -1 && PyErr_Occurred()) {
                Py_DECREF(rep);
                goto done;
            }
            if (k < 0 || k >= n) {
                PyErr_Format(PyExc_ValueError, "columns(): position %zd out of range", k);
                Py_DECREF(rep);
                goto done;
            }
        }
        else if (PyErr_Occurred()) {
            Py_DECREF(rep);
            goto done;
        }
        PyObject *sum;
        if (k >= 0)
            sum = PyList_GET_ITEM(sums, k);
        else {
            sum = PyDict_GetItemWithError(others, rep);
            if (sum == NULL) {
                if (PyErr_Occurred()) {
                    Py_DECREF(rep);
                    goto done;
                }
                sum = start;
            }
        }
        PyObject *added = PyNumber_Add(sum, PyList_GET_ITEM(amounts, i));
        if (added == NULL) {
            Py_DECREF(rep);
            goto done;
        }
        if (k >= 0) {
            PyList_SetItem(sums, k, added); /* steals added, releases the old sum */
            numbers[k]++;
        }
        else {
            int failed = PyDict_SetItem(others, rep, added) < 0;
            Py_DECREF(added);
            if (failed) {
                Py_DECREF(rep);
                goto done;
            }
        }
        Py_DECREF(rep);
    }
    counts = PyList_New(n);
    if (counts == NULL)
        goto done;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *number = PyLong_FromSsize_t(numbers[k]);
        if (number == NULL)
            goto done;
        PyList_SET_ITEM(counts, k, number);
    }
    result = PyTuple_Pack(2, sums, counts);
done:
    PyMem_Free(numbers);
    Py_XDECREF(others);
    Py_XDECREF(counts);
    Py_DECREF(sums);
    return result;
}

static PyMethodDef methods[] = {
    {"credit", (PyCFunction)(void (*)(void))credit, METH_FASTCALL, credit_doc},
    {"columns", (PyCFunction)(void (*)(void))columns, METH_FASTCALL, columns_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "domain.engine._crediting",
    "The hot loop of domain.engine.by_class, in C.", -1, methods,
};

PyMODINIT_FUNC
PyInit__crediting(void)
{
    for (int i = 0; i < N_ATTRS; i++) {
        attr_strs[i] = PyUnicode_InternFromString(attr_names[i]);
        if (attr_strs[i] == NULL)
            return NULL;
    }
    str_get = PyUnicode_InternFromString("get");
    if (str_get == NULL)
        return NULL;
    return PyModule_Create(&module_def);
}
