// Uploads go from the browser straight to S3 with presigned URLs, never through the Lambda,
// with a progress bar: one PUT for small files, a multipart upload for large ones (S3 caps a
// single PUT at 5 GB).
(function () {
  'use strict';
  var PARALLEL_PARTS = 3;
  var PART_RETRIES = 2;
  var form = document.getElementById('upload');
  if (!form) return;
  var input = document.getElementById('file');
  var progress = document.getElementById('progress');
  var status = document.getElementById('upload-status');
  // The folder the page shows, exactly as the app wrote it; uploads go there.
  var folder = form.getAttribute('data-folder') || '';

  function fail(message, httpStatus) {
    var err = new Error(message);
    err.status = httpStatus;
    return err;
  }

  // POST to the app with the session's CSRF token; JSON back, its `error` shown on failure.
  function post(path, fields) {
    var body = new URLSearchParams();
    body.set('csrf', form.getAttribute('data-csrf'));
    Object.keys(fields).forEach(function (k) {
      body.set(k, fields[k]);
    });
    return fetch(path, { method: 'POST', body: body, credentials: 'same-origin' }).then(
      function (r) {
        return r.json().then(
          function (j) {
            if (!r.ok) throw fail(j.error || 'The upload failed (' + r.status + ').', r.status);
            return j;
          },
          function () {
            throw fail('The upload failed (' + r.status + ').', r.status);
          },
        );
      },
    );
  }

  // One PUT to S3; resolves with the finished XHR. `active` collects XHRs to cancel on failure.
  function put(url, headers, body, onProgress, active) {
    function forget(xhr) {
      var i = active ? active.indexOf(xhr) : -1;
      if (i >= 0) active.splice(i, 1);
    }
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open('PUT', url);
      Object.keys(headers).forEach(function (h) {
        xhr.setRequestHeader(h, headers[h]);
      });
      xhr.upload.onprogress = function (e) {
        onProgress(e.loaded);
      };
      xhr.onload = function () {
        forget(xhr);
        if (xhr.status >= 200 && xhr.status < 300) resolve(xhr);
        else if (xhr.status === 412 || xhr.status === 409)
          reject(fail('A file with this name already exists. Delete it first or rename yours.'));
        else reject(fail('The upload failed (' + xhr.status + ').', xhr.status));
      };
      xhr.onerror = xhr.onabort = function () {
        forget(xhr);
        reject(fail('The upload failed: network error.'));
      };
      if (active) active.push(xhr);
      xhr.send(body);
    });
  }

  function showProgress(done, total) {
    progress.hidden = false;
    progress.value = total > 0 ? Math.round((done / total) * 100) : 100;
  }

  function uploadSingle(file, target) {
    return put(target.url, target.headers, file, function (loaded) {
      showProgress(loaded, file.size);
    });
  }

  // Parts go PARALLEL_PARTS at a time, each retried PART_RETRIES times; then the app completes
  // the upload with the parts' ETags. On any failure the upload is aborted, so no parts linger.
  function uploadParts(file, target) {
    var loaded = {};
    var etags = [];
    var active = [];
    var next = 0;
    var failed = false;

    function report() {
      var sum = 0;
      Object.keys(loaded).forEach(function (n) {
        sum += loaded[n];
      });
      showProgress(sum, file.size);
    }

    function sendPart(part, attempt) {
      var start = (part.partNumber - 1) * target.partSize;
      var blob = file.slice(start, Math.min(start + target.partSize, file.size));
      return put(
        part.url,
        {},
        blob,
        function (n) {
          loaded[part.partNumber] = n;
          report();
        },
        active,
      ).then(
        function (xhr) {
          // The bucket's CORS rule exposes ETag; without it the upload cannot be completed.
          var etag = xhr.getResponseHeader('ETag');
          if (!etag) throw fail('S3 did not return the part ETag. The upload cannot finish.');
          if (etag.charAt(0) !== '"') etag = '"' + etag + '"';
          etags[part.partNumber - 1] = { partNumber: part.partNumber, etag: etag };
        },
        function (err) {
          loaded[part.partNumber] = 0;
          report();
          if (failed || attempt >= PART_RETRIES) throw err;
          return sendPart(part, attempt + 1);
        },
      );
    }

    function worker() {
      if (failed || next >= target.parts.length) return Promise.resolve();
      var part = target.parts[next];
      next += 1;
      return sendPart(part, 0).then(worker);
    }

    var workers = [];
    for (var i = 0; i < PARALLEL_PARTS; i++) workers.push(worker());
    return Promise.all(workers)
      .then(function () {
        status.textContent = 'Finishing upload…';
        return post('/upload-complete', {
          folder: folder,
          name: target.name,
          uploadId: target.uploadId,
          parts: JSON.stringify(etags),
        });
      })
      .catch(function (err) {
        failed = true;
        active.slice().forEach(function (xhr) {
          xhr.abort();
        });
        var abort = function () {
          throw err;
        };
        return post('/upload-abort', {
          folder: folder,
          name: target.name,
          uploadId: target.uploadId,
        }).then(abort, abort);
      });
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var file = input.files && input.files[0];
    if (!file) return;
    status.textContent = 'Preparing upload…';
    post('/upload-url', {
      folder: folder,
      name: file.name,
      type: file.type || 'application/octet-stream',
      size: String(file.size),
    })
      .then(function (target) {
        status.textContent = 'Uploading ' + target.name + '…';
        return (target.multipart ? uploadParts(file, target) : uploadSingle(file, target)).then(
          function () {
            status.textContent = 'Uploaded ' + target.name + '.';
            // A message code, not text: the app writes the notice (messages-from-app).
            var query = [];
            if (folder) query.push('prefix=' + encodeURIComponent(folder));
            query.push('done=uploaded', 'name=' + encodeURIComponent(folder + target.name));
            window.location.assign('/?' + query.join('&'));
          },
        );
      })
      .catch(function (err) {
        status.textContent = err.message;
      });
  });
})();
