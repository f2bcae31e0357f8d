// Uploads go from the browser straight to S3 with a presigned PUT (any size the
// browser can send, never through the Lambda), with a progress bar.
(function () {
  'use strict';
  var form = document.getElementById('upload');
  if (!form) return;
  var input = document.getElementById('file');
  var progress = document.getElementById('progress');
  var status = document.getElementById('upload-status');

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var file = input.files && input.files[0];
    if (!file) return;
    status.textContent = 'Preparing upload…';
    var body = new URLSearchParams();
    body.set('csrf', form.getAttribute('data-csrf'));
    body.set('name', file.name);
    body.set('type', file.type || 'application/octet-stream');
    fetch('/upload-url', { method: 'POST', body: body, credentials: 'same-origin' })
      .then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) throw new Error(j.error || 'The upload could not start.');
          return j;
        });
      })
      .then(function (target) {
        var xhr = new XMLHttpRequest();
        xhr.open('PUT', target.url);
        Object.keys(target.headers).forEach(function (h) {
          xhr.setRequestHeader(h, target.headers[h]);
        });
        progress.hidden = false;
        xhr.upload.onprogress = function (e) {
          if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100);
        };
        xhr.onload = function () {
          if (xhr.status >= 200 && xhr.status < 300) {
            status.textContent = 'Uploaded ' + target.name + '.';
            window.location.assign('/?uploaded=' + encodeURIComponent(target.name));
          } else if (xhr.status === 412 || xhr.status === 409) {
            status.textContent =
              'A file named ' + target.name + ' already exists. Delete it first or rename yours.';
          } else {
            status.textContent = 'The upload failed (' + xhr.status + ').';
          }
        };
        xhr.onerror = function () {
          status.textContent = 'The upload failed: network error.';
        };
        xhr.send(file);
      })
      .catch(function (err) {
        status.textContent = err.message;
      });
  });
})();
