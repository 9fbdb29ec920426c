#pragma once
// What the transform-images worker needs, built from [fetch] and [transform]: an outbound
// client of its own for untrusted downloads (so that a slow image host never queues behind
// Discord's API calls), the system resolver, the fetch policy, and the decoder processes
// (`mando transform-worker`, transform/pool.hpp).
//
// Only a process that serves the transform-images queue opens it: the decoder processes start
// with it. Destroy it before the io_context.

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "core/config.hpp"
#include "net/fetcher.hpp"
#include "net/http_client.hpp"
#include "net/resolver.hpp"
#include "transform/pool.hpp"

namespace mando::app {

class TransformService {
 public:
  // kInvalidArgument when [fetch] does not make a policy (load_config checks it first).
  static Result<std::unique_ptr<TransformService>> open(const core::Config& config,
                                                        boost::asio::any_io_executor executor);

  net::Fetcher& fetcher() { return fetcher_; }
  transform::WorkerPool& decoders() { return decoders_; }

 private:
  TransformService(const core::Config& config, boost::asio::any_io_executor executor,
                   net::UrlPolicy policy);

  net::HttpClient http_;
  net::SystemResolver resolver_;
  net::Fetcher fetcher_;
  transform::WorkerPool decoders_;
};

}  // namespace mando::app
